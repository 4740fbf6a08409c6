//! Index folding and query expressions.

use crate::fold::{index_text, match_expression};

fn tokens(s: &str) -> Vec<String> {
    index_text(s).split(' ').map(str::to_owned).collect()
}

/// The quoted words of a match expression.
fn quoted_words(expr: &str) -> Vec<String> {
    expr.split(' ').map(|w| w.trim_end_matches('*').trim_matches('"').to_owned()).collect()
}

#[test]
fn umlaut_words_are_indexed_in_both_spellings_and_sharp_s_as_ss() {
    assert_eq!(tokens("Müller Straße"), ["muller", "mueller", "strasse"]);
    assert_eq!(tokens("ÄRGER über GRÖSSE"), ["arger", "aerger", "uber", "ueber", "grosse", "groesse"]);
    assert_eq!(tokens("Größe"), ["grosse", "groesse"]);
}

#[test]
fn every_spelling_of_mueller_finds_the_indexed_word() {
    let indexed = tokens("Müller");
    for typed in ["Mueller", "müller", "Muller", "MÜLLER"] {
        let expr = match_expression(typed).unwrap();
        for word in quoted_words(&expr) {
            assert!(indexed.contains(&word), "{typed} → {expr} not in {indexed:?}");
        }
    }
    assert_eq!(match_expression("Straße").unwrap(), "\"strasse\"");
    assert!(tokens("Straße").contains(&"strasse".to_owned()));
}

#[test]
fn fts_syntax_in_a_query_is_harmless() {
    assert_eq!(match_expression("\" OR ) ("), Some("\"or\"".to_owned()));
    assert_eq!(match_expression("a\"b NOT c:d^e"), Some("\"a\" \"b\" \"not\" \"c\" \"d\" \"e\"".to_owned()));
    for query in ["\"", "\"\"\"", "(\"a", "*", "**a**", "NEAR(a b)", "a\"*"] {
        if let Some(expr) = match_expression(query) {
            assert_eq!(expr.matches('"').count() % 2, 0, "{query} → {expr}");
        }
    }
}

#[test]
fn a_query_without_words_has_no_expression() {
    assert_eq!(match_expression(""), None);
    assert_eq!(match_expression("  !? \" * "), None);
}

#[test]
fn a_trailing_star_makes_a_prefix_query() {
    assert_eq!(match_expression("Münch*").unwrap(), "\"munch\"*");
    assert_eq!(match_expression("Plan Münch* 2026").unwrap(), "\"plan\" \"munch\"* \"2026\"");
}

#[test]
fn an_address_is_split_like_the_index_splits_it() {
    assert_eq!(match_expression("jm@example.de").unwrap(), "\"jm\" \"example\" \"de\"");
    assert_eq!(tokens("jm@example.de"), ["jm", "example", "de"]);
}

#[test]
fn decomposed_umlauts_are_composed_and_other_accents_dropped() {
    assert_eq!(tokens("Mu\u{308}ller Cafe\u{301}"), ["muller", "mueller", "cafe"]);
    assert_eq!(match_expression("Mu\u{308}ller").unwrap(), "\"muller\"");
    assert_eq!(tokens("\u{308}x"), ["x"]);
}

#[test]
fn capital_sharp_s_is_folded_too() {
    assert_eq!(tokens("STRAẞE"), ["strasse"]);
    assert_eq!(match_expression("STRAẞE").unwrap(), "\"strasse\"");
}
