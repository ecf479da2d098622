//! The GitHub-profile example (after the one in Reflex's architecture notes): an input whose
//! `on_blur` makes an async handler fetch `/users/{name}` from the GitHub API, then the page shows
//! the avatar and a link to the profile. A user that does not exist is a message, not a crash.
//!
//! The API's base URL is `REFRACT_GITHUB_API` (default `https://api.github.com`), so tests point it
//! at a local fake server.

use refract::prelude::*;
use serde::{Deserialize, Serialize};

/// The environment variable holding the GitHub API's base URL.
pub const API_ENV: &str = "REFRACT_GITHUB_API";

/// The GitHub API's base URL: set by [`app_with_api`], else `REFRACT_GITHUB_API`, else GitHub's.
static API_BASE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn api_base() -> &'static str {
    API_BASE.get_or_init(|| {
        std::env::var(API_ENV).unwrap_or_else(|_| "https://api.github.com".to_owned())
    })
}

/// What one browser tab is looking at.
#[derive(State, Default, Serialize, Deserialize)]
pub struct GithubState {
    user: String,
    avatar_url: Option<String>,
    profile_url: Option<String>,
    name: Option<String>,
    message: Option<String>,
}

/// The part of GitHub's `GET /users/{name}` answer this app uses.
#[derive(Deserialize)]
struct Profile {
    login: String,
    avatar_url: String,
    html_url: String,
    name: Option<String>,
}

/// Whether `user` is a valid GitHub login: 1 to 39 ASCII letters, digits or inner single hyphens.
fn valid_login(user: &str) -> bool {
    (1..=39).contains(&user.len())
        && user.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !user.starts_with('-')
        && !user.ends_with('-')
        && !user.contains("--")
}

#[refract::handlers]
impl GithubState {
    /// Looks `user` up on GitHub and shows the profile, or says why it cannot.
    pub async fn set_user(&mut self, user: String) {
        let user = user.trim().to_owned();
        *self = GithubState {
            user: user.clone(),
            ..GithubState::default()
        };
        if user.is_empty() {
            return;
        }
        if !valid_login(&user) {
            self.message = Some(format!("`{user}` is not a GitHub user name"));
            return;
        }
        match fetch(&user).await {
            Ok(Some(p)) => {
                self.avatar_url = Some(p.avatar_url);
                self.profile_url = Some(p.html_url);
                self.name = Some(p.name.unwrap_or(p.login));
            }
            Ok(None) => self.message = Some(format!("User `{user}` not found")),
            Err(e) => self.message = Some(format!("GitHub could not be reached: {e}")),
        }
    }
}

/// `Ok(None)` when GitHub says 404.
async fn fetch(user: &str) -> Result<Option<Profile>, reqwest::Error> {
    let base = api_base();
    let response = reqwest::Client::new()
        .get(format!("{}/users/{user}", base.trim_end_matches('/')))
        .header(reqwest::header::USER_AGENT, "refract-github-example")
        .header(reqwest::header::ACCEPT, "application/vnd.github+json")
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    Ok(Some(response.error_for_status()?.json().await?))
}

fn index() -> Flex {
    let avatar_url = GithubState::avatar_url();
    vstack((
        heading("GitHub profile").size(S8),
        input()
            .placeholder("GitHub user name, then Tab")
            .prop("id", "user")
            .on_blur(GithubState::set_user),
        when(
            avatar_url.is_some(),
            hstack((
                avatar(avatar_url.unwrap_or(""), "?").size(S6),
                vstack((
                    text(GithubState::name().unwrap_or("")).size(S5),
                    link_to(
                        "Profile on GitHub",
                        GithubState::profile_url().unwrap_or(""),
                    )
                    .prop("id", "profile-link"),
                )),
            )),
        ),
        when(
            GithubState::message().is_some(),
            text(GithubState::message().unwrap_or(""))
                .color(Color::Crimson)
                .prop("id", "message"),
        ),
    ))
    .p(S6)
}

/// The GitHub-profile app.
pub fn app() -> App {
    App::new("GitHub profile")
        .state::<GithubState>()
        .page("/", index)
}

/// The app, calling the GitHub API at `base` (e.g. a fake one in tests). The base is set once per
/// process: a later call with another base panics.
///
/// # Panics
/// When the base was already set to another URL.
pub fn app_with_api(base: &str) -> App {
    let set = API_BASE.get_or_init(|| base.to_owned());
    assert_eq!(set, base, "the GitHub API base is set once per process");
    app()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins() {
        for ok in ["octocat", "a", "a-b", &"x".repeat(39)] {
            assert!(valid_login(ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "a--b",
            "a/b",
            "../x",
            "a b",
            &"x".repeat(40),
        ] {
            assert!(!valid_login(bad), "{bad}");
        }
    }
}
