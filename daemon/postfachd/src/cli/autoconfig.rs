//! `postfachd autoconfig EMAIL`: a ready account file from the provider adapters. Where
//! the adapter supplies OAuth2 data (Gmail, Outlook.com / Microsoft 365), the file logs in
//! with `auth = "oauth2"` and says what to do next.

use super::output;
use super::{CliError, plugin_host};
use crate::config::{Config, Security, local_part};
use crate::plugins::{LoginForm, Server};
use crate::provider;

fn security(s: Security) -> &'static str {
    match s {
        Security::Tls => "tls",
        Security::Starttls => "starttls",
        Security::Plain => "plain",
    }
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Prints the suggested TOML on stdout.
pub async fn run(config: &Config, email: &str) -> Result<(), CliError> {
    if !email.contains('@') {
        return Err(CliError::NotAnAddress(email.to_owned()));
    }
    let host = plugin_host(config).await?;
    let (host, address) = (host, email.to_owned());
    let found = tokio::task::spawn_blocking(move || {
        provider::autoconfig(&host, &address).map(|(id, d)| {
            let oauth = host.oauth2(&id, &address).ok().flatten();
            (id, d, oauth)
        })
    })
    .await?;
    let Some((adapter, d, oauth)) = found else {
        return Err(CliError::NoServersKnown(email.to_owned()));
    };
    let login = match d.login {
        LoginForm::FullAddress => email.to_owned(),
        LoginForm::LocalPart => local_part(email).to_owned(),
    };
    let server = |section: &str, s: &Server, username: &str| {
        let login = match (&oauth, section) {
            // `[smtp]` takes OAuth2 from `[imap]`.
            (Some(_), "imap") => "auth = \"oauth2\"\n".to_owned(),
            (Some(_), _) => String::new(),
            (None, _) => format!("password = {{ env = \"{}\" }}\n", password_var(email)),
        };
        format!(
            "[{section}]\nhost = {}\nport = {}\nsecurity = \"{}\"\nusername = {}\n{login}",
            toml_string(&s.host),
            s.port,
            security(crate::provider::security(s.security)),
            toml_string(username),
        )
    };
    let mut text = format!(
        "# Suggested by the `{adapter}` provider adapter (postfachd autoconfig).\n# Save as accounts/<id>.toml and adjust.\n"
    );
    if let Some(hint) = &d.hint {
        text.push_str(&format!("# Note: {hint}\n"));
    }
    text.push_str(&format!(
        "description = {}\nprovider = \"{adapter}\"\n\n[identity]\nname = \"\"\nemail = {}\n\n",
        toml_string(email),
        toml_string(email)
    ));
    text.push_str(&server("imap", &d.imap, &login));
    text.push('\n');
    // SMTP logins use the full address even where IMAP uses the local part (iCloud).
    text.push_str(&server("smtp", &d.smtp, email));
    if let Some(o) = &oauth {
        text.push_str(&format!(
            "\n# OAuth2 at {provider}: endpoints and scopes come from the `{adapter}` adapter.\n\
             # 1. Register an app with {provider} (README: \"Gmail and Microsoft 365 (OAuth2)\") and put its\n\
             #    client id (and secret, if it has one) below.\n\
             # 2. Save this file as accounts/<id>.toml, then run: postfachd oauth authorize <id>{device}\n\
             [oauth2]\nclient_id = \"\"\n# client_secret = {{ env = \"POSTFACH_OAUTH_SECRET\" }}\n{tenant}",
            provider = o.provider,
            tenant = if o.auth_url.contains("{tenant}") {
                "# tenant = \"common\"   # or your directory's id or domain (Microsoft 365)\n"
            } else {
                ""
            },
            device = if o.device_url.is_some() { " (or --device)" } else { "" },
        ));
    }
    output::line(text.trim_end());
    Ok(())
}

fn password_var(email: &str) -> String {
    let local: String = local_part(email)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
        .collect();
    format!("POSTFACH_PASSWORD_{local}")
}
