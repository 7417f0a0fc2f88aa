//! Background jobs as the queue stores them: a kind and its data, typed, so a worker never
//! parses a bare string and a producer cannot enqueue what no worker knows.

use serde::{Deserialize, Serialize};

use super::UserId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// The mail a new user gets.
    WelcomeMail { user_id: UserId },
    /// The mail telling a user their password changed.
    PasswordChangedMail { user_id: UserId },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserPayload {
    user_id: UserId,
}

impl Job {
    /// Every kind a worker of this build runs.
    pub const KINDS: [&'static str; 2] = ["mail.welcome", "mail.password_changed"];

    /// The `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::WelcomeMail { .. } => "mail.welcome",
            Job::PasswordChangedMail { .. } => "mail.password_changed",
        }
    }

    /// The `payload` column.
    pub fn payload(&self) -> serde_json::Value {
        match self {
            Job::WelcomeMail { user_id } | Job::PasswordChangedMail { user_id } => {
                serde_json::json!(UserPayload { user_id: *user_id })
            }
        }
    }

    /// A stored job, or why it cannot be run (a kind this build does not know, a payload that
    /// does not fit it).
    pub fn from_row(kind: &str, payload: serde_json::Value) -> Result<Self, String> {
        let user = |payload| {
            serde_json::from_value::<UserPayload>(payload)
                .map(|p| p.user_id)
                .map_err(|error| format!("the {kind} payload is unreadable: {error}"))
        };
        match kind {
            "mail.welcome" => Ok(Job::WelcomeMail {
                user_id: user(payload)?,
            }),
            "mail.password_changed" => Ok(Job::PasswordChangedMail {
                user_id: user(payload)?,
            }),
            other => Err(format!("no worker knows jobs of kind {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_through_their_columns() {
        for job in [
            Job::WelcomeMail {
                user_id: UserId::generate(),
            },
            Job::PasswordChangedMail {
                user_id: UserId::generate(),
            },
        ] {
            assert_eq!(Job::from_row(job.kind(), job.payload()), Ok(job));
        }
        assert!(Job::from_row("mail.unknown", serde_json::json!({})).is_err());
        assert!(Job::from_row("mail.welcome", serde_json::json!({"userId": 5})).is_err());
    }
}
