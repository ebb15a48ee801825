//! A stand-in for Safaricom's Daraja (OAuth and STK push) served on
//! loopback, and the application configured to reach it.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use base64::Engine;

use crate::common::*;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Accept,
    Refuse,
    Broken,
}

/// A stand-in for Safaricom's Daraja: OAuth and STK push, recording requests.
#[derive(Clone)]
pub struct FakeDaraja {
    pushes: Arc<Mutex<Vec<Value>>>,
    mode: Arc<Mutex<Mode>>,
    pub base_url: String,
}

impl FakeDaraja {
    pub async fn start() -> Self {
        let pushes = Arc::new(Mutex::new(Vec::new()));
        let mode = Arc::new(Mutex::new(Mode::Accept));
        let (p, m) = (pushes.clone(), mode.clone());
        let router = axum::Router::new()
            .route(
                "/oauth/v1/generate",
                get(|headers: HeaderMap| async move {
                    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("ck-test:cs-test"));
                    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
                        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"errorMessage": "Invalid credentials"})));
                    }
                    (StatusCode::OK, axum::Json(json!({"access_token": "fake-access-token", "expires_in": "3599"})))
                }),
            )
            .route(
                "/mpesa/stkpush/v1/processrequest",
                post(move |headers: HeaderMap, axum::Json(body): axum::Json<Value>| {
                    let (pushes, mode) = (p.clone(), m.clone());
                    async move {
                        assert_eq!(headers.get("authorization").and_then(|v| v.to_str().ok()), Some("Bearer fake-access-token"));
                        let mode = *mode.lock().unwrap();
                        let n = {
                            let mut pushes = pushes.lock().unwrap();
                            pushes.push(body);
                            pushes.len()
                        };
                        match mode {
                            Mode::Accept => (
                                StatusCode::OK,
                                axum::Json(json!({
                                    "MerchantRequestID": format!("29115-3462056-{n}"),
                                    "CheckoutRequestID": format!("ws_CO_2026112112000{n}"),
                                    "ResponseCode": "0",
                                    "ResponseDescription": "Success. Request accepted for processing",
                                    "CustomerMessage": "Success. Request accepted for processing"
                                })),
                            ),
                            Mode::Refuse => (
                                StatusCode::BAD_REQUEST,
                                axum::Json(json!({"requestId": "1", "errorCode": "400.002.02", "errorMessage": "Bad Request - Invalid PhoneNumber"})),
                            ),
                            Mode::Broken => (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({}))),
                        }
                    }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self {
            pushes,
            mode,
            base_url,
        }
    }

    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn pushes(&self) -> Vec<Value> {
        self.pushes.lock().unwrap().clone()
    }
}

pub const PASSKEY: &str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";

pub async fn app_with_daraja(
    backend: TestBackend,
    daraja: &FakeDaraja,
    extra: &[(&str, &str)],
) -> TestApp {
    let mut settings = vec![
        ("CAMPUS_MPESA_BASE_URL", daraja.base_url.as_str()),
        ("CAMPUS_MPESA_CONSUMER_KEY", "ck-test"),
        ("CAMPUS_MPESA_CONSUMER_SECRET", "cs-test"),
        ("CAMPUS_MPESA_PASSKEY", PASSKEY),
        (
            "CAMPUS_MPESA_CALLBACK_URL",
            "https://clearance.mksu.ac.ke/api/finance/mpesa_callback/",
        ),
    ];
    settings.extend_from_slice(extra);
    TestApp::with_settings(backend, &settings).await
}

pub fn callback(checkout: &str, code: i64, receipt: &str, amount: i64) -> Value {
    let mut body = json!({"Body": {"stkCallback": {
        "MerchantRequestID": "29115-3462056-1",
        "CheckoutRequestID": checkout,
        "ResultCode": code,
        "ResultDesc": if code == 0 { "The service request is processed successfully." } else { "Request cancelled by user" },
    }}});
    if code == 0 {
        body["Body"]["stkCallback"]["CallbackMetadata"] = json!({"Item": [
            {"Name": "Amount", "Value": amount},
            {"Name": "MpesaReceiptNumber", "Value": receipt},
            {"Name": "TransactionDate", "Value": 20261121120501_i64},
            {"Name": "PhoneNumber", "Value": 254712345678_i64},
        ]});
    }
    body
}
