//! Safaricom Daraja: OAuth client-credentials token, then STK push
//! (`CustomerPayBillOnline`). Settings come from `CAMPUS_MPESA_*`.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kernel::config::SettingError;
use serde::Deserialize;
use tokio::sync::Mutex;

/// Clearance-specific settings.
#[derive(Debug, Clone)]
pub struct MpesaSettings {
    pub base_url: String,
    pub consumer_key: Option<String>,
    pub consumer_secret: Option<String>,
    pub shortcode: String,
    pub passkey: Option<String>,
    pub callback_url: Option<String>,
    /// When set, callbacks must carry `?token=<this>`.
    pub callback_token: Option<String>,
    /// When non-empty, callbacks are accepted only from these addresses.
    pub allowed_ips: Vec<std::net::IpAddr>,
}

impl MpesaSettings {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        let bad = |name: &'static str, reason: &str| SettingError {
            name,
            reason: reason.to_owned(),
        };
        let base_url = lookup("CAMPUS_MPESA_BASE_URL")
            .unwrap_or_else(|| "https://sandbox.safaricom.co.ke".to_owned());
        if url::Url::parse(&base_url).is_err() {
            return Err(bad("CAMPUS_MPESA_BASE_URL", "not a URL"));
        }
        let allowed_ips = match lookup("CAMPUS_MPESA_ALLOWED_IPS") {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse().map_err(|_| {
                        bad(
                            "CAMPUS_MPESA_ALLOWED_IPS",
                            "expected comma-separated IP addresses",
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            consumer_key: lookup("CAMPUS_MPESA_CONSUMER_KEY"),
            consumer_secret: lookup("CAMPUS_MPESA_CONSUMER_SECRET"),
            shortcode: lookup("CAMPUS_MPESA_SHORTCODE").unwrap_or_else(|| "174379".to_owned()),
            passkey: lookup("CAMPUS_MPESA_PASSKEY"),
            callback_url: lookup("CAMPUS_MPESA_CALLBACK_URL"),
            callback_token: lookup("CAMPUS_MPESA_CALLBACK_TOKEN"),
            allowed_ips,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DarajaError {
    #[error("M-PESA is not configured on this server")]
    NotConfigured,
    #[error("M-PESA could not be reached")]
    Unavailable,
    #[error("M-PESA refused the request: {0}")]
    Refused(String),
}

/// What Daraja answers to an accepted STK push.
#[derive(Debug, Clone)]
pub struct StkPush {
    pub checkout_request_id: String,
    pub merchant_request_id: String,
}

#[derive(Debug)]
pub struct Daraja {
    settings: MpesaSettings,
    http: reqwest::Client,
    token: Mutex<Option<(String, Instant)>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StkResponse {
    #[serde(rename = "MerchantRequestID", default)]
    merchant_request_id: String,
    #[serde(rename = "CheckoutRequestID", default)]
    checkout_request_id: String,
    #[serde(default)]
    response_code: String,
    #[serde(default)]
    response_description: String,
}

impl Daraja {
    pub fn new(settings: MpesaSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            settings,
            http,
            token: Mutex::new(None),
        }
    }

    pub fn settings(&self) -> &MpesaSettings {
        &self.settings
    }

    async fn access_token(&self) -> Result<String, DarajaError> {
        let (Some(key), Some(secret)) =
            (&self.settings.consumer_key, &self.settings.consumer_secret)
        else {
            return Err(DarajaError::NotConfigured);
        };
        let mut cached = self.token.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && *until > Instant::now()
        {
            return Ok(token.clone());
        }
        let response = self
            .http
            .get(format!(
                "{}/oauth/v1/generate?grant_type=client_credentials",
                self.settings.base_url
            ))
            .basic_auth(key, Some(secret))
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "Daraja OAuth request failed");
                DarajaError::Unavailable
            })?;
        if !response.status().is_success() {
            return Err(DarajaError::Refused(format!(
                "authentication failed ({})",
                response.status().as_u16()
            )));
        }
        let body: TokenResponse = response
            .json()
            .await
            .map_err(|_| DarajaError::Refused("unreadable token response".into()))?;
        let lifetime = match &body.expires_in {
            serde_json::Value::String(s) => s.parse().unwrap_or(3599),
            serde_json::Value::Number(n) => n.as_u64().unwrap_or(3599),
            _ => 3599,
        };
        *cached = Some((
            body.access_token.clone(),
            Instant::now() + Duration::from_secs(lifetime.saturating_sub(60)),
        ));
        Ok(body.access_token)
    }

    /// Asks Daraja to prompt `phone` (2547…) for `amount` whole shillings.
    pub async fn stk_push(
        &self,
        phone: &str,
        amount: i64,
        account_reference: &str,
        description: &str,
    ) -> Result<StkPush, DarajaError> {
        let (Some(passkey), Some(callback_url)) =
            (&self.settings.passkey, &self.settings.callback_url)
        else {
            return Err(DarajaError::NotConfigured);
        };
        let token = self.access_token().await?;
        // Daraja wants Nairobi local time (UTC+3, no daylight saving).
        let timestamp = (kernel::time::now() + chrono::Duration::hours(3))
            .format("%Y%m%d%H%M%S")
            .to_string();
        let shortcode = &self.settings.shortcode;
        let password = STANDARD.encode(format!("{shortcode}{passkey}{timestamp}"));
        let body = serde_json::json!({
            "BusinessShortCode": shortcode,
            "Password": password,
            "Timestamp": timestamp,
            "TransactionType": "CustomerPayBillOnline",
            "Amount": amount,
            "PartyA": phone,
            "PartyB": shortcode,
            "PhoneNumber": phone,
            "CallBackURL": callback_url,
            "AccountReference": account_reference,
            "TransactionDesc": description,
        });
        let response = self
            .http
            .post(format!(
                "{}/mpesa/stkpush/v1/processrequest",
                self.settings.base_url
            ))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "Daraja STK push request failed");
                DarajaError::Unavailable
            })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let parsed: Option<StkResponse> = serde_json::from_str(&text).ok();
        match parsed {
            Some(r)
                if status.is_success()
                    && r.response_code == "0"
                    && !r.checkout_request_id.is_empty() =>
            {
                Ok(StkPush {
                    checkout_request_id: r.checkout_request_id,
                    merchant_request_id: r.merchant_request_id,
                })
            }
            Some(r) if !r.response_description.is_empty() => {
                Err(DarajaError::Refused(r.response_description))
            }
            _ => {
                let message = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v["errorMessage"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
                Err(DarajaError::Refused(message))
            }
        }
    }
}

/// Normalises a Kenyan mobile number to `2547XXXXXXXX` / `2541XXXXXXXX`.
pub fn normalize_phone(input: &str) -> Option<String> {
    let digits: String = input
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '+' | '(' | ')'))
        .collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let normalized = if let Some(rest) = digits.strip_prefix('0') {
        format!("254{rest}")
    } else if digits.len() == 9 {
        format!("254{digits}")
    } else {
        digits
    };
    let valid = normalized.len() == 12
        && (normalized.starts_with("2547") || normalized.starts_with("2541"));
    valid.then_some(normalized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_normalise_to_254() {
        assert_eq!(
            normalize_phone("0712 345-678").as_deref(),
            Some("254712345678")
        );
        assert_eq!(
            normalize_phone("+254 712 345678").as_deref(),
            Some("254712345678")
        );
        assert_eq!(
            normalize_phone("712345678").as_deref(),
            Some("254712345678")
        );
        assert_eq!(
            normalize_phone("0110345678").as_deref(),
            Some("254110345678")
        );
        for bad in ["12345", "0812345678", "25471234567", "07123abc78", ""] {
            assert_eq!(normalize_phone(bad), None, "{bad}");
        }
    }
}
