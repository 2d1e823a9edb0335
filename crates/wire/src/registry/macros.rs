//! The `registry!` macro: one IANA registry as a newtype over its wire integer.
//!
//! A newtype (rather than a Rust enum) lets values we have no name for survive a
//! parse/write round trip unchanged; they print as hex, e.g. `ExchangeType(0x99)`.

/// Declares `pub struct $name(pub $repr)` with one associated constant per entry,
/// `name()`, `Debug`/`Display` that print the name (or hex), and `From` conversions.
macro_rules! registry {
    (
        $(#[$meta:meta])*
        pub struct $name:ident($repr:ty) {
            $( $(#[$cmeta:meta])* $konst:ident = $value:expr ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub $repr);

        impl $name {
            $( $(#[$cmeta])* pub const $konst: $name = $name($value); )*

            /// The registry name of this value, or `None` if it has no name here.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $value => Some(stringify!($konst)), )*
                    _ => None,
                }
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(name) => f.write_str(name),
                    None => write!(
                        f,
                        "{}({:#0width$x})",
                        stringify!($name),
                        self.0,
                        width = 2 + 2 * core::mem::size_of::<$repr>()
                    ),
                }
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Display::fmt(self, f)
            }
        }

        impl From<$repr> for $name {
            fn from(value: $repr) -> Self {
                $name(value)
            }
        }

        impl From<$name> for $repr {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

pub(crate) use registry;
