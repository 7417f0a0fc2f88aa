use super::Invalid;

/// A field of a partial update: left alone, cleared, or set. JSON tells the three apart as a
/// missing key, `null`, and a value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

impl<T> Patch<T> {
    /// From the wire's `Option<Option<T>>` (missing key, `null`, value).
    pub fn from_wire(value: Option<Option<T>>) -> Self {
        match value {
            None => Patch::Keep,
            Some(None) => Patch::Clear,
            Some(Some(value)) => Patch::Set(value),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Patch::Keep => Patch::Keep,
            Patch::Clear => Patch::Clear,
            Patch::Set(value) => Patch::Set(f(value)),
        }
    }

    /// Checks a value being set; keeping and clearing need no check.
    pub fn try_map<U, E>(self, f: impl FnOnce(T) -> Result<U, E>) -> Result<Patch<U>, E> {
        Ok(match self {
            Patch::Keep => Patch::Keep,
            Patch::Clear => Patch::Clear,
            Patch::Set(value) => Patch::Set(f(value)?),
        })
    }

    /// The new value of a nullable column, or `None` to leave it alone.
    pub fn into_update(self) -> Option<Option<T>> {
        match self {
            Patch::Keep => None,
            Patch::Clear => Some(None),
            Patch::Set(value) => Some(Some(value)),
        }
    }
}

impl Patch<String> {
    /// Checks text being set with `parse`, where `Ok(None)` means the text was blank: setting
    /// blank text clears the field, as a form would mean it.
    pub fn parse_text(
        self,
        parse: impl FnOnce(&str) -> Result<Option<String>, Invalid>,
    ) -> Result<Patch<String>, Invalid> {
        Ok(match self.try_map(|text| parse(&text))? {
            Patch::Set(Some(text)) => Patch::Set(text),
            Patch::Set(None) | Patch::Clear => Patch::Clear,
            Patch::Keep => Patch::Keep,
        })
    }
}
