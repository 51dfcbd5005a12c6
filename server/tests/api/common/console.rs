//! A console session for tests: a cookie-keeping client that calls server functions over HTTP
//! with the session's CSRF token, as the browser's forms do.

use serde_json::Value;

use super::TestApp;

/// A console session: a cookie-keeping client and the session's CSRF token.
pub struct Console {
    pub http: reqwest::Client,
    pub base: String,
    pub csrf: String,
}

impl Console {
    pub async fn open(app: &TestApp) -> Console {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut console = Console {
            http,
            base: app.base.clone(),
            csrf: String::new(),
        };
        console.csrf = console.session_csrf().await;
        console
    }

    pub async fn session_csrf(&self) -> String {
        let info: Value = self
            .http
            .post(format!("{}/api/get_session_info", self.base))
            .form(&Vec::<(String, String)>::new())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        info["csrf_token"].as_str().unwrap().to_string()
    }

    pub async fn log_in(app: &TestApp, email: &str, password: &str) -> Console {
        let mut console = Console::open(app).await;
        let response = console
            .call(
                "login",
                &[("email", email.to_string()), ("password", password.into())],
            )
            .await;
        assert!(!response.1.contains("BadCredentials"), "{}", response.1);
        // A new session id and CSRF token come with the login.
        console.csrf = console.session_csrf().await;
        console
    }

    /// Calls a server function with its form fields (the CSRF token added); status and body.
    pub async fn call(&self, endpoint: &str, fields: &[(&str, String)]) -> (u16, String) {
        let mut form: Vec<(&str, String)> = vec![("csrf", self.csrf.clone())];
        form.extend(fields.iter().cloned());
        let response = self
            .http
            .post(format!("{}/api/{endpoint}", self.base))
            .form(&form)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}
