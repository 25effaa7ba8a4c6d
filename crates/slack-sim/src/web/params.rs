//! Web API arguments as Slack reads them: the query string, then a
//! `application/x-www-form-urlencoded` or `application/json` body (body
//! wins), with typed accessors that accept strings or JSON numbers.
//!
//! Parsing only; it must never look at state or decide outcomes.

use serde_json::{Map, Value};

use crate::protocol::{ApiError, Ts};

#[derive(Clone, Debug, Default)]
pub(crate) struct Params(Map<String, Value>);

impl Params {
    /// Merges the query and the body; a body that is neither valid JSON (when
    /// declared JSON) nor a form is `invalid_json` / ignored respectively.
    pub fn parse(query: Option<&str>, content_type: &str, body: &[u8]) -> Result<Params, ApiError> {
        let mut map = Map::new();
        if let Some(q) = query {
            for (k, v) in form_urlencoded::parse(q.as_bytes()) {
                map.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        }
        let looks_json = content_type.contains("json")
            || (content_type.is_empty() && body.first() == Some(&b'{'));
        if body.is_empty() {
        } else if looks_json {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(o)) => map.extend(o),
                _ => return Err(ApiError::InvalidJson),
            }
        } else {
            for (k, v) in form_urlencoded::parse(body) {
                map.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        }
        Ok(Params(map))
    }

    pub fn to_json(&self) -> Value {
        Value::Object(self.0.clone())
    }

    /// A parameter as text (numbers and booleans rendered); empty is absent.
    pub fn str(&self, key: &str) -> Option<String> {
        let text = match self.0.get(key)? {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return None,
        };
        (!text.is_empty()).then_some(text)
    }

    /// A parameter as given (JSON bodies may carry objects).
    pub fn value(&self, key: &str) -> Option<Value> {
        self.0.get(key).cloned()
    }

    /// A required text parameter.
    pub fn required(&self, key: &str) -> Result<String, ApiError> {
        self.str(key).ok_or(ApiError::InvalidArguments)
    }

    /// A ts parameter; malformed is `bad`.
    pub fn ts(&self, key: &str, bad: ApiError) -> Result<Option<Ts>, ApiError> {
        self.str(key).map(|s| Ts::parse(&s).ok_or(bad)).transpose()
    }

    pub fn usize(&self, key: &str) -> Option<usize> {
        self.str(key)?.parse().ok()
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.str(key).as_deref(), Some("true" | "1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_json_and_query_merge() {
        let p = Params::parse(
            Some("limit=5&channel=C1"),
            "application/x-www-form-urlencoded",
            b"channel=C2&text=a+b%21",
        )
        .unwrap();
        assert_eq!(p.str("channel").as_deref(), Some("C2"));
        assert_eq!(p.str("text").as_deref(), Some("a b!"));
        assert_eq!(p.usize("limit"), Some(5));
        let j = Params::parse(
            None,
            "application/json; charset=utf-8",
            br#"{"limit": 7, "inclusive": true, "ts": "1.5"}"#,
        )
        .unwrap();
        assert_eq!(j.usize("limit"), Some(7));
        assert!(j.flag("inclusive"));
        assert_eq!(
            j.ts("ts", ApiError::InvalidArguments)
                .unwrap()
                .unwrap()
                .micros,
            500_000
        );
        assert_eq!(j.ts("nope", ApiError::InvalidArguments), Ok(None));
        assert_eq!(
            Params::parse(None, "application/json", b"[1]").unwrap_err(),
            ApiError::InvalidJson
        );
    }
}
