//! The `thread-follow` router: a reply inherits the project of the message it answers
//! (In-Reply-To first, then References from the newest), across folders and accounts.
//!
//! Within one batch, a reply also follows a parent this router assigned earlier in the
//! same batch, so a whole thread arriving at once is routed together (the host passes
//! messages oldest first). No options.

use std::cell::RefCell;
use std::collections::HashMap;

use postfach_plugin_sdk::{Decision, MessageMeta, Router, host, register_router};

/// The router.
#[derive(Default)]
pub struct ThreadFollow {
    /// Projects decided in this batch, by Message-ID.
    decided: RefCell<HashMap<String, String>>,
}

impl Router for ThreadFollow {
    const ID: &'static str = "thread-follow";

    fn new() -> Self {
        ThreadFollow::default()
    }

    fn route(&self, message: &MessageMeta<'_>) -> Decision {
        let parents = message.in_reply_to.into_iter().chain(message.references.iter().rev());
        for parent in parents {
            let known = self.decided.borrow().get(parent).cloned();
            if let Some(project) = known.or_else(|| host::project_of(parent)) {
                if let Some(id) = message.message_id {
                    self.decided.borrow_mut().insert(id.to_owned(), project.clone());
                }
                return Decision::project(project, format!("reply to <{parent}>"));
            }
        }
        Decision::Skip
    }
}

register_router!(ThreadFollow);

#[cfg(test)]
mod tests {
    use postfach_plugin_sdk::Texts;
    use postfach_plugin_sdk::testing::FakeHost;

    use super::*;

    #[test]
    fn replies_follow_their_parents_even_within_one_batch() {
        let host = FakeHost::new().assigned("root@x", "210-01");
        let reply = MessageMeta { message_id: Some("a@x"), in_reply_to: Some("root@x"), ..MessageMeta::default() };
        let reply_to_reply = MessageMeta {
            message_id: Some("b@x"),
            references: Texts::from(&["root@x", "a@x"][..]),
            ..MessageMeta::default()
        };
        let unrelated = MessageMeta { message_id: Some("c@x"), in_reply_to: Some("other@y"), ..MessageMeta::default() };
        let decisions = host.run(|| ThreadFollow::new().route_batch(&[reply, reply_to_reply, unrelated]));
        assert_eq!(
            decisions,
            [
                Decision::project("210-01", "reply to <root@x>"),
                Decision::project("210-01", "reply to <a@x>"),
                Decision::Skip
            ]
        );
    }
}
