//! Address headers rendered for display and for the search index.

use mail_parser::Address;

/// `Name <addr>`, or `addr` when there is no name, for each address (groups flattened);
/// the same form the store keeps for From/To/Cc.
pub(crate) fn display(addr: Option<&Address<'_>>) -> Vec<String> {
    let Some(addr) = addr else { return Vec::new() };
    addr.iter()
        .filter_map(|a| match (a.name.as_deref().map(str::trim), a.address.as_deref()) {
            (Some(name), Some(address)) if !name.is_empty() => Some(format!("{name} <{address}>")),
            (_, Some(address)) => Some(address.to_owned()),
            (Some(name), None) if !name.is_empty() => Some(name.to_owned()),
            _ => None,
        })
        .collect()
}

/// Names and addresses separated by spaces (`Jürgen Müller jm@example.de`): the index
/// wants the words, not the punctuation of the display form.
pub(crate) fn words(addr: Option<&Address<'_>>, out: &mut String) {
    let Some(addr) = addr else { return };
    for a in addr.iter() {
        for piece in [a.name.as_deref(), a.address.as_deref()].into_iter().flatten() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(piece);
        }
    }
}
