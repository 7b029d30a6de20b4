//! Extractors whose rejections are problem+json with the field at fault, never axum's plain text.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts};
use frontdesk_kernel::{Error, FieldError};
use serde::de::DeserializeOwned;

/// Largest JSON body accepted by [`ApiJson`] (bigger uploads use their own routes).
pub const JSON_LIMIT: usize = 1024 * 1024;

/// A JSON body. Wrong content type → 415-like 400; malformed or mistyped → 422 naming the field.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let mime = ct.split(';').next().unwrap_or("").trim();
                mime == "application/json" || mime.ends_with("+json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(Error::bad_request("unsupported_media_type", "Send the body as application/json."));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|_| Error::PayloadTooLarge)?;
        if bytes.len() > JSON_LIMIT {
            return Err(Error::PayloadTooLarge);
        }
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses JSON, naming the field at fault (`items[2].price`) in the error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let inner = e.inner();
        let mut field = e.path().to_string();
        let message = inner.to_string();
        let (code, field) = if inner.is_syntax() || inner.is_eof() {
            ("malformed_json", String::new())
        } else if let Some(missing) = message.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
            if field == "." {
                field.clear();
            }
            let full = if field.is_empty() { missing.to_owned() } else { format!("{field}.{missing}") };
            ("required", full)
        } else {
            ("invalid", if field == "." { String::new() } else { field })
        };
        // serde's text ends with "at line 1 column 7": position noise for API clients.
        let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
        Error::Validation(vec![FieldError::new(field, code, message)])
    })
}

/// Query parameters, with problem+json on bad values.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded_compat::Deserializer::new(query);
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|e| {
            let field = e.path().to_string();
            Error::Validation(vec![FieldError::new(
                if field == "." { String::new() } else { field },
                "invalid",
                e.inner().to_string(),
            )])
        })
    }
}

/// Path parameters. A malformed id cannot name an existing object, so it answers 404 — the same
/// as an id that does not exist or belongs to another tenant.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|_| Error::NotFound)
    }
}

/// Query strings through axum's own deserializer (serde_urlencoded via `Query`), exposed as a
/// `Deserializer` so `serde_path_to_error` can name the field.
mod serde_urlencoded_compat {
    use serde::de::{self, Deserializer as _, IntoDeserializer, MapAccess, Visitor};

    pub struct Deserializer<'a> {
        pairs: Vec<(String, String)>,
        _input: &'a str,
    }

    impl<'a> Deserializer<'a> {
        pub fn new(input: &'a str) -> Self {
            let pairs = url::form_urlencoded::parse(input.as_bytes()).into_owned().collect();
            Self { pairs, _input: input }
        }
    }

    #[derive(Debug)]
    pub struct DeError(String);
    impl std::fmt::Display for DeError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl std::error::Error for DeError {}
    impl de::Error for DeError {
        fn custom<T: std::fmt::Display>(msg: T) -> Self {
            DeError(msg.to_string())
        }
    }

    impl<'de> de::Deserializer<'de> for Deserializer<'_> {
        type Error = DeError;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            visitor.visit_map(Pairs { iter: self.pairs.into_iter(), value: None })
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map struct enum identifier ignored_any
        }
    }

    struct Pairs {
        iter: std::vec::IntoIter<(String, String)>,
        value: Option<String>,
    }

    impl<'de> MapAccess<'de> for Pairs {
        type Error = DeError;

        fn next_key_seed<K: de::DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Self::Error> {
            match self.iter.next() {
                Some((k, v)) => {
                    self.value = Some(v);
                    seed.deserialize(k.into_deserializer()).map(Some)
                }
                None => Ok(None),
            }
        }

        fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Self::Error> {
            let value = self.value.take().unwrap_or_default();
            seed.deserialize(Value(value))
        }
    }

    /// One query value: parses numbers and booleans on demand, like serde_urlencoded.
    struct Value(String);

    macro_rules! parse_value {
        ($($method:ident => $visit:ident),*) => {
            $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
                let v = self.0.parse().map_err(|_| DeError(format!("{:?} is not a valid value here", self.0)))?;
                visitor.$visit(v)
            })*
        };
    }

    impl<'de> de::Deserializer<'de> for Value {
        type Error = DeError;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            visitor.visit_string(self.0)
        }

        fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            if self.0.is_empty() {
                visitor.visit_none()
            } else {
                visitor.visit_some(self)
            }
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _name: &'static str,
            _variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Self::Error> {
            visitor.visit_enum(self.0.into_deserializer())
        }

        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            visitor: V,
        ) -> Result<V::Value, Self::Error> {
            visitor.visit_newtype_struct(self)
        }

        parse_value! {
            deserialize_bool => visit_bool, deserialize_u8 => visit_u8, deserialize_u16 => visit_u16,
            deserialize_u32 => visit_u32, deserialize_u64 => visit_u64, deserialize_i8 => visit_i8,
            deserialize_i16 => visit_i16, deserialize_i32 => visit_i32, deserialize_i64 => visit_i64,
            deserialize_f32 => visit_f32, deserialize_f64 => visit_f64
        }

        serde::forward_to_deserialize_any! {
            i128 u128 char str string bytes byte_buf unit unit_struct seq tuple
            tuple_struct map struct identifier ignored_any
        }
    }

    // Silence "unused" for the trait import used by the macro-generated code paths.
    #[allow(dead_code)]
    fn _uses(d: Deserializer<'_>) {
        let _ = d.is_human_readable();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        items: Vec<Item>,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Item {
        price: i64,
    }

    fn field_of(e: Error) -> (String, String) {
        match e {
            Error::Validation(v) => (v[0].field.clone(), v[0].code.clone()),
            other => panic!("expected validation, got {other:?}"),
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        assert_eq!(field_of(parse_json::<Body>(br#"{"items":[]}"#).unwrap_err()), ("email".into(), "required".into()));
        assert_eq!(
            field_of(parse_json::<Body>(br#"{"email":"a","items":[{"price":1},{"price":"x"}]}"#).unwrap_err()),
            ("items[1].price".into(), "invalid".into())
        );
        assert_eq!(field_of(parse_json::<Body>(b"{nope").unwrap_err()).1, "malformed_json");
    }
}
