//! The signatures of DingTalk's and Feishu's signed robots: both an
//! HMAC-SHA256 keyed with the robot's secret, told apart by what is signed
//! and where the signature goes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

/// DingTalk: `timestamp` (milliseconds) and `sign` added to the URL's
/// query; `sign` is base64(HMAC-SHA256(key = secret, "timestamp\nsecret")).
pub(super) fn dingtalk_url(url: &str, secret: &str, millis: u128) -> String {
    let signature = hmac(secret.as_bytes(), format!("{millis}\n{secret}").as_bytes());
    let query =
        serde_urlencoded::to_string([("timestamp", millis.to_string()), ("sign", signature)])
            .expect("strings encode");
    let joiner = if url.contains('?') { '&' } else { '?' };
    format!("{url}{joiner}{query}")
}

/// Feishu: `timestamp` (seconds, a string) and `sign` added to the body;
/// `sign` is base64(HMAC-SHA256(key = "timestamp\nsecret", empty message)).
pub(super) fn feishu_body(body: &mut Value, secret: &str, secs: u64) {
    let signature = hmac(format!("{secs}\n{secret}").as_bytes(), b"");
    if let Value::Object(o) = body {
        o.insert("timestamp".into(), Value::String(secs.to_string()));
        o.insert("sign".into(), Value::String(signature));
    }
}

/// base64(HMAC-SHA256(key, message)).
pub(super) fn hmac(key: &[u8], message: &[u8]) -> String {
    use openssl::{hash::MessageDigest, pkey::PKey, sign::Signer};
    let mac = PKey::hmac(key)
        .and_then(|k| {
            let mut signer = Signer::new(MessageDigest::sha256(), &k)?;
            signer.update(message)?;
            signer.sign_to_vec()
        })
        .expect("HMAC-SHA256 takes any key");
    BASE64.encode(mac)
}
