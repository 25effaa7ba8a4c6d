//! URL rules for the platform endpoints a config may redirect (a proxy, the
//! simulator): which schemes are allowed and the normalised form we keep.
//!
//! Owns only the shape of an endpoint URL; it never resolves or connects.

use url::Url;

/// A REST base URL: `http://` or `https://`, a host, an optional port, and no
/// path, query, fragment or credentials. Returned without a trailing slash
/// (e.g. `http://127.0.0.1:3000`), so callers append `/api/v10/...`.
pub(super) fn http_base_url(text: &str) -> Result<String, String> {
    let url = parse(text, &["http", "https"], "http:// or https://")?;
    if !matches!(url.path(), "" | "/") {
        return Err(format!(
            "{text:?} has a path ({:?}); give only scheme, host and port, e.g. \
             \"http://127.0.0.1:3000\" (requests go to <url>/api/v10/...)",
            url.path()
        ));
    }
    Ok(trimmed(&url))
}

/// An HTTP API base that includes its path (Slack's is
/// `https://slack.com/api`): `http://` or `https://`, a host, an optional
/// port and path, no query, fragment or credentials. Returned without a
/// trailing slash, so callers append `/{method}`.
pub(super) fn http_api_url(text: &str) -> Result<String, String> {
    let url = parse(text, &["http", "https"], "http:// or https://")?;
    Ok(trimmed(&url))
}

/// A gateway URL: `ws://` or `wss://`, a host, an optional port and path, no
/// query (the client appends its own), fragment or credentials. Returned
/// without a trailing slash.
pub(super) fn websocket_url(text: &str) -> Result<String, String> {
    let url = parse(text, &["ws", "wss"], "ws:// or wss://")?;
    Ok(trimmed(&url))
}

fn parse(text: &str, schemes: &[&str], wanted: &str) -> Result<Url, String> {
    let url = Url::parse(text)
        .map_err(|err| format!("invalid URL {text:?}: {err}; write it as {wanted}HOST[:PORT]"))?;
    if !schemes.contains(&url.scheme()) {
        return Err(format!(
            "{text:?} has scheme {:?}; it must start with {wanted}",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "{text:?} has no host; write it as {wanted}HOST[:PORT]"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{text:?} contains credentials; remove the user:password@ part"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{text:?} has a query or fragment; remove the ?... / #... part"
        ));
    }
    Ok(url)
}

fn trimmed(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_base_urls_are_normalised() {
        assert_eq!(
            http_base_url("https://discord.com").unwrap(),
            "https://discord.com"
        );
        assert_eq!(
            http_base_url("http://127.0.0.1:3000/").unwrap(),
            "http://127.0.0.1:3000"
        );
        assert_eq!(
            http_base_url("HTTP://LocalHost:80").unwrap(),
            "http://localhost"
        );
        assert_eq!(
            http_base_url("http://[::1]:8080").unwrap(),
            "http://[::1]:8080"
        );
    }

    #[test]
    fn http_base_url_rejections_say_why() {
        let err = http_base_url("ftp://example.com").unwrap_err();
        assert!(
            err.contains(r#"has scheme "ftp"; it must start with http:// or https://"#),
            "{err}"
        );
        let err = http_base_url("ws://127.0.0.1:1").unwrap_err();
        assert!(err.contains("must start with http://"), "{err}");
        let err = http_base_url("http://127.0.0.1:3000/api").unwrap_err();
        assert!(err.contains(r#"has a path ("/api")"#), "{err}");
        let err = http_base_url("127.0.0.1:3000").unwrap_err();
        assert!(err.contains("127.0.0.1:3000"), "{err}");
        let err = http_base_url("not a url").unwrap_err();
        assert!(err.starts_with(r#"invalid URL "not a url": "#), "{err}");
        let err = http_base_url("http://u:p@host").unwrap_err();
        assert!(err.contains("credentials"), "{err}");
        let err = http_base_url("http://host/?x=1").unwrap_err();
        assert!(err.contains("query or fragment"), "{err}");
        let err = http_base_url("http://127.0.0.1:99999").unwrap_err();
        assert!(err.starts_with("invalid URL"), "{err}");
    }

    #[test]
    fn websocket_urls() {
        assert_eq!(
            websocket_url("ws://127.0.0.1:4000/").unwrap(),
            "ws://127.0.0.1:4000"
        );
        assert_eq!(
            websocket_url("wss://gateway.discord.gg").unwrap(),
            "wss://gateway.discord.gg"
        );
        assert_eq!(
            websocket_url("ws://proxy:1/gw/").unwrap(),
            "ws://proxy:1/gw"
        );
        let err = websocket_url("https://gateway.discord.gg").unwrap_err();
        assert!(err.contains("it must start with ws:// or wss://"), "{err}");
        let err = websocket_url("ws://h:1/?v=10").unwrap_err();
        assert!(err.contains("query or fragment"), "{err}");
    }
}
