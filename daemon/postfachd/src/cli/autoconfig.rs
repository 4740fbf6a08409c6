//! `postfachd autoconfig EMAIL`: a ready account file from the provider adapters.

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
    let found = tokio::task::spawn_blocking(move || provider::autoconfig(&host, &address)).await?;
    let Some((adapter, d)) = found else {
        return Err(CliError::NoServersKnown(email.to_owned()));
    };
    let login = match d.login {
        LoginForm::FullAddress => email.to_owned(),
        LoginForm::LocalPart => local_part(email).to_owned(),
    };
    let server = |section: &str, s: &Server, username: &str| {
        format!(
            "[{section}]\nhost = {}\nport = {}\nsecurity = \"{}\"\nusername = {}\npassword = {{ env = \"{}\" }}\n",
            toml_string(&s.host),
            s.port,
            security(crate::provider::security(s.security)),
            toml_string(username),
            password_var(email),
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
