//! Enums stored as text columns and sent as snake_case strings.

/// Declares a fieldless enum with its wire/storage names, `as_str`, `FromStr`, serde and an
/// OpenAPI schema.
#[macro_export]
macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $s:literal),+ $(,)? } default $default:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        // serde's snake_case spelling of each variant is its stored name; a unit test per
        // enum checks that the two agree.
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vm])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }

            /// The stored value, or a `Corrupt` error naming the column.
            pub fn from_db(s: &str) -> $crate::Result<Self> {
                s.parse().map_err(|_| $crate::StoreError::Corrupt(format!(
                    "{} `{}`", stringify!($name), s)))
            }
        }

        impl std::str::FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($s => Ok($name::$variant),)+ _ => Err(()) }
            }
        }

        impl Default for $name {
            fn default() -> Self { $name::$default }
        }
    };
}
