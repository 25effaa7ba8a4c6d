//! JSON-RPC 2.0 framing for ACP over stdio: one JSON object per line.
//!
//! Owns: turning one received line into an [`Incoming`] message and
//! encoding outgoing requests, notifications and responses (with the schema
//! crate's envelope types). Shared by the client actor and the demo agent.
//!
//! Must never: interpret ACP methods (that is the caller's job), or do I/O.

use agent_client_protocol_schema::v1::{
    Error as RpcError, JsonRpcMessage, Notification, Request, RequestId, Response,
};
use serde::Serialize;
use serde_json::Value;

/// One message received from the peer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Incoming {
    /// A request: must be answered with the same id.
    Request {
        /// Echoed in the answer.
        id: RequestId,
        /// e.g. `session/request_permission`.
        method: String,
        /// `null` when absent.
        params: Value,
    },
    /// A notification: never answered.
    Notification {
        /// e.g. `session/update`.
        method: String,
        /// `null` when absent.
        params: Value,
    },
    /// The answer to one of our requests.
    Response {
        /// Our request's id.
        id: RequestId,
        /// The result, or the peer's error object.
        result: Result<Value, RpcError>,
    },
}

/// Parse one line. `Err` says why it is not a JSON-RPC message.
pub(crate) fn parse_line(line: &[u8]) -> Result<Incoming, String> {
    let value: Value = serde_json::from_slice(line).map_err(|err| format!("not JSON ({err})"))?;
    let Value::Object(mut object) = value else {
        return Err("not a JSON object".into());
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err("missing \"jsonrpc\": \"2.0\"".into());
    }
    let params = object.remove("params").unwrap_or(Value::Null);
    let id = match object.remove("id") {
        Some(id) => {
            Some(serde_json::from_value::<RequestId>(id).map_err(|err| format!("bad id ({err})"))?)
        }
        None => None,
    };
    match (object.remove("method"), id) {
        (Some(Value::String(method)), Some(id)) => Ok(Incoming::Request { id, method, params }),
        (Some(Value::String(method)), None) => Ok(Incoming::Notification { method, params }),
        (Some(_), _) => Err("\"method\" is not a string".into()),
        (None, Some(id)) => {
            let result = match (object.remove("result"), object.remove("error")) {
                (_, Some(error)) => Err(serde_json::from_value::<RpcError>(error)
                    .map_err(|err| format!("bad error object ({err})"))?),
                (Some(result), None) => Ok(result),
                (None, None) => return Err("response without result or error".into()),
            };
            Ok(Incoming::Response { id, result })
        }
        (None, None) => Err("neither a request, a notification nor a response".into()),
    }
}

/// Encode a request (no trailing newline).
pub(crate) fn request(id: i64, method: &str, params: &impl Serialize) -> String {
    encode(&JsonRpcMessage::wrap(Request {
        id: RequestId::Number(id),
        method: method.into(),
        params: Some(to_value(params)),
    }))
}

/// Encode a notification (no trailing newline).
pub(crate) fn notification(method: &str, params: &impl Serialize) -> String {
    encode(&JsonRpcMessage::wrap(Notification {
        method: method.into(),
        params: Some(to_value(params)),
    }))
}

/// Encode a successful response (no trailing newline).
pub(crate) fn response(id: RequestId, result: &impl Serialize) -> String {
    encode(&JsonRpcMessage::wrap(Response::<Value>::new(
        id,
        Ok(to_value(result)),
    )))
}

/// Encode an error response (no trailing newline).
pub(crate) fn error_response(id: RequestId, error: RpcError) -> String {
    encode(&JsonRpcMessage::wrap(Response::<Value>::new(
        id,
        Err(error),
    )))
}

/// Describe a peer's error object for logs and errors.
pub(crate) fn describe_error(error: &RpcError) -> String {
    let code = i32::from(error.code);
    match &error.data {
        Some(data) => format!("{} (code {code}; data {data})", error.message),
        None => format!("{} (code {code})", error.message),
    }
}

fn to_value(params: &impl Serialize) -> Value {
    // The schema types and serde_json values always serialize.
    serde_json::to_value(params).unwrap_or(Value::Null)
}

fn encode(message: &impl Serialize) -> String {
    serde_json::to_string(message).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_client_protocol_schema::v1::ErrorCode;
    use serde_json::json;

    fn parse(value: Value) -> Result<Incoming, String> {
        parse_line(value.to_string().as_bytes())
    }

    #[test]
    fn classifies_requests_notifications_and_responses() {
        assert_eq!(
            parse(json!({"jsonrpc":"2.0","id":7,"method":"fs/read_text_file","params":{"a":1}})),
            Ok(Incoming::Request {
                id: RequestId::Number(7),
                method: "fs/read_text_file".into(),
                params: json!({"a":1}),
            })
        );
        assert_eq!(
            parse(json!({"jsonrpc":"2.0","id":"x","method":"m"})),
            Ok(Incoming::Request {
                id: RequestId::Str("x".into()),
                method: "m".into(),
                params: Value::Null,
            })
        );
        assert_eq!(
            parse(json!({"jsonrpc":"2.0","method":"session/update","params":{}})),
            Ok(Incoming::Notification {
                method: "session/update".into(),
                params: json!({}),
            })
        );
        assert_eq!(
            parse(json!({"jsonrpc":"2.0","id":1,"result":{"ok":true}})),
            Ok(Incoming::Response {
                id: RequestId::Number(1),
                result: Ok(json!({"ok":true})),
            })
        );
        // A null result is still a result.
        assert_eq!(
            parse(json!({"jsonrpc":"2.0","id":1,"result":null})),
            Ok(Incoming::Response {
                id: RequestId::Number(1),
                result: Ok(Value::Null),
            })
        );
        let Ok(Incoming::Response {
            result: Err(error), ..
        }) = parse(json!({"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"nope"}}))
        else {
            panic!("expected an error response");
        };
        assert_eq!(error.code, ErrorCode::MethodNotFound);
        assert_eq!(describe_error(&error), "nope (code -32601)");
    }

    #[test]
    fn rejects_junk() {
        for line in [
            &b"hello world"[..],
            b"[1,2]",
            br#"{"id":1,"result":{}}"#,
            br#"{"jsonrpc":"2.0","id":1}"#,
            br#"{"jsonrpc":"2.0","method":3}"#,
            br#"{"jsonrpc":"2.0"}"#,
            b"\xff\xfe",
        ] {
            assert!(
                parse_line(line).is_err(),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn encodes_one_line_messages() {
        let line = request(3, "session/new", &json!({"cwd":"/w","mcpServers":[]}));
        assert!(!line.contains('\n'));
        assert_eq!(
            serde_json::from_str::<Value>(&line).unwrap(),
            json!({"jsonrpc":"2.0","id":3,"method":"session/new","params":{"cwd":"/w","mcpServers":[]}})
        );
        assert_eq!(
            serde_json::from_str::<Value>(&notification(
                "session/cancel",
                &json!({"sessionId":"s"})
            ))
            .unwrap(),
            json!({"jsonrpc":"2.0","method":"session/cancel","params":{"sessionId":"s"}})
        );
        assert_eq!(
            serde_json::from_str::<Value>(&response(RequestId::Str("a".into()), &json!({})))
                .unwrap(),
            json!({"jsonrpc":"2.0","id":"a","result":{}})
        );
        assert_eq!(
            serde_json::from_str::<Value>(&error_response(
                RequestId::Number(9),
                RpcError::method_not_found()
            ))
            .unwrap(),
            json!({"jsonrpc":"2.0","id":9,"error":{"code":-32601,"message":"Method not found"}})
        );
        // Round trip through our own parser.
        assert!(matches!(
            parse_line(line.as_bytes()),
            Ok(Incoming::Request { method, .. }) if method == "session/new"
        ));
    }
}
