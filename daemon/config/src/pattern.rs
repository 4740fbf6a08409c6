//! Folder patterns as written in `folders.sync` and `idle_folders`: `*` matches any run
//! of characters (including the hierarchy separator), everything else literally, INBOX
//! in any case.

fn is_inbox(name: &str) -> bool {
    name.eq_ignore_ascii_case("INBOX")
}

/// Matches a `folders.sync` pattern: `*` matches any run of characters (including the
/// separator); everything else literally; INBOX case-insensitively.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    if is_inbox(pattern) && is_inbox(name) {
        return true;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative wildcard matching with backtracking to the last `*`.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == n[ni] {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}
