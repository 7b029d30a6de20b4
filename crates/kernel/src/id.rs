//! Typed ids with a readable prefix: `ten_01JD3Q…`.
//!
//! The body is a ULID-style value: 48 bits of milliseconds then 80 random bits, written in
//! Crockford base32 (26 characters). Ids therefore sort by creation time, which makes cursor
//! paging a plain `id < $cursor` and keeps B-tree inserts append-mostly.

use rand::RngCore;
use std::sync::Mutex;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Length of the id body after `prefix_`.
pub const BODY_LEN: usize = 26;

/// The last id made by this process: ids made within one millisecond increase its random part
/// by one, so ids of one process are strictly increasing (monotonic ULIDs).
static LAST: Mutex<(u128, u128)> = Mutex::new((0, 0));

const RANDOM_MASK: u128 = (1 << 80) - 1;

/// A new time-ordered id body (26 Crockford base32 characters).
pub fn new_body() -> String {
    let now = crate::time::now_ms().max(0) as u128;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let fresh = u128::from_le_bytes(bytes) & RANDOM_MASK;
    let value = {
        let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        let (ms, random) = if now > last.0 || (last.1 & RANDOM_MASK) == RANDOM_MASK {
            (now.max(last.0), fresh)
        } else {
            (last.0, last.1 + 1)
        };
        *last = (ms, random);
        (ms << 80) | random
    };
    encode(value)
}

/// The smallest id body made at `ms` (its time, then a zero random part): ids sort by time, so
/// `id >= floor(t0) AND id < floor(t1)` is a time range on a primary key.
pub fn floor_body(ms: i64) -> String {
    encode((ms.max(0) as u128) << 80)
}

fn encode(mut value: u128) -> String {
    let mut out = [0u8; BODY_LEN];
    for slot in out.iter_mut().rev() {
        *slot = CROCKFORD[(value & 31) as usize];
        value >>= 5;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// True when `body` is 26 Crockford base32 characters.
pub fn is_valid_body(body: &str) -> bool {
    body.len() == BODY_LEN && body.bytes().all(|b| CROCKFORD.contains(&b))
}

/// Declares a typed id: `define_id!(TenantId, "ten");`
#[macro_export]
macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The id prefix, without the underscore.
            pub const PREFIX: &'static str = $prefix;

            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(format!("{}_{}", $prefix, $crate::id::new_body()))
            }

            /// Parses an id from untrusted input; `None` when the prefix or body is wrong.
            pub fn parse(s: &str) -> Option<Self> {
                let body = s.strip_prefix(concat!($prefix, "_"))?;
                $crate::id::is_valid_body(body).then(|| Self(s.to_owned()))
            }

            /// Wraps a value read back from our own database.
            pub fn from_db(s: String) -> Self {
                Self(s)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s).ok_or($crate::Error::NotFound)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).ok_or_else(|| {
                    serde::de::Error::custom(concat!("expected an id starting with ", $prefix, "_"))
                })
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some(concat!("^", $prefix, "_[0-9A-HJKMNP-TV-Z]{26}$")))
                    .examples([concat!($prefix, "_01JD3Q9ZK6Y2V8T4N1M5R7B3XW")])
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

define_id!(
    /// A tenant: one business (studio, salon, clinic) with its own data, brand and bill.
    TenantId,
    "ten"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_bodies_bound_the_ids_of_their_millisecond() {
        let now = crate::time::now_ms();
        let id = new_body();
        assert!(floor_body(now - 1) < id && id < floor_body(now + 1_000), "{id}");
        assert_eq!(floor_body(0), "0".repeat(BODY_LEN));
        assert!(floor_body(-5) == floor_body(0));
        assert!(floor_body(1) > floor_body(0));
    }

    #[test]
    fn ids_round_trip_and_sort_by_time() {
        let a = TenantId::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = TenantId::new();
        assert!(a < b, "{a} should sort before {b}");
        assert_eq!(TenantId::parse(a.as_str()), Some(a.clone()));
        assert!(a.as_str().starts_with("ten_"));
        assert_eq!(a.as_str().len(), 4 + BODY_LEN);
    }

    #[test]
    fn ids_of_one_process_strictly_increase() {
        let ids: Vec<TenantId> = (0..2000).map(|_| TenantId::new()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn parse_rejects_foreign_prefixes_and_bad_bodies() {
        assert!(TenantId::parse("usr_01JD3Q9ZK6Y2V8T4N1M5R7B3XW").is_none());
        assert!(TenantId::parse("ten_01JD3Q9ZK6Y2V8T4N1M5R7B3X").is_none());
        assert!(TenantId::parse("ten_01JD3Q9ZK6Y2V8T4N1M5R7B3XU").is_none()); // U is not Crockford
        assert!(TenantId::parse("' OR 1=1 --").is_none());
    }
}
