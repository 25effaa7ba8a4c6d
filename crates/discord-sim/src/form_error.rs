//! Discord's "Invalid Form Body" (code 50035) error: one field error at a
//! path into the request body, rendered as Discord nests it
//! (`errors.components.0.components.1.custom_id._errors[]`).
//!
//! Plain data and its JSON; it must never know about routes or state.

use serde_json::{Map, Value, json};

/// One field error at `path` (object keys and array indexes, outermost first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FormError {
    pub path: Vec<String>,
    pub code: &'static str,
    pub message: String,
}

impl FormError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            path: Vec::new(),
            code,
            message: message.into(),
        }
    }

    /// The error one level further out: `key` goes in front of the path.
    pub fn under(mut self, key: impl ToString) -> Self {
        self.path.insert(0, key.to_string());
        self
    }

    pub fn required() -> Self {
        Self::new("BASE_TYPE_REQUIRED", "This field is required")
    }

    pub fn max_length(max: usize) -> Self {
        Self::new(
            "BASE_TYPE_MAX_LENGTH",
            format!("Must be {max} or fewer in length."),
        )
    }

    pub fn bad_length(min: usize, max: usize) -> Self {
        Self::new(
            "BASE_TYPE_BAD_LENGTH",
            format!("Must be between {min} and {max} in length."),
        )
    }

    /// The whole 400 body.
    pub fn body(&self) -> Value {
        let mut errors = json!({ "_errors": [{ "code": self.code, "message": self.message }] });
        for key in self.path.iter().rev() {
            let mut level = Map::new();
            level.insert(key.clone(), errors);
            errors = Value::Object(level);
        }
        json!({ "message": "Invalid Form Body", "code": 50035, "errors": errors })
    }
}

/// Checks a string field's length in characters (`min..=max`); absent
/// counts as empty.
pub(crate) fn check_len(
    value: Option<&Value>,
    field: &str,
    min: usize,
    max: usize,
) -> Result<(), FormError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return if min == 0 {
            Ok(())
        } else {
            Err(FormError::required().under(field))
        };
    };
    let Some(text) = value.as_str() else {
        return Err(
            FormError::new("BASE_TYPE_STRING", "Could not interpret value as string.").under(field),
        );
    };
    let len = text.chars().count();
    if len < min || len > max {
        let error = if min == 0 {
            FormError::max_length(max)
        } else {
            FormError::bad_length(min, max)
        };
        return Err(error.under(field));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nests_the_path_as_discord_does() {
        let e = FormError::max_length(100)
            .under("custom_id")
            .under(1)
            .under("components")
            .under(0)
            .under("components");
        assert_eq!(
            e.body()["errors"]["components"]["0"]["components"]["1"]["custom_id"]["_errors"][0]["code"],
            "BASE_TYPE_MAX_LENGTH"
        );
        assert_eq!(e.body()["code"], 50035);
    }
}
