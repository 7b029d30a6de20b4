pub async fn foundation(_p: Option<String>, _r: usize, _c: usize) -> Result<(), crate::app::AppError> { Ok(()) }
