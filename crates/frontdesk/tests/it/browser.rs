//! Browser tests live here once the dashboard pages land.
