//! Small language helpers for English and German customer messages: words without stop words,
//! a light stemmer, overlap between a question and an FAQ entry, and the few intents the pipeline
//! acts on by rule (a greeting, asking for a human).

use std::collections::HashSet;

const STOP_EN: &[&str] = &[
    "a", "an", "the", "is", "are", "am", "be", "do", "does", "did", "i", "you", "we", "my", "your", "our", "me", "it",
    "to", "of", "in", "on", "at", "for", "and", "or", "can", "could", "would", "will", "what", "when", "how", "where",
    "which", "there", "this", "that", "with", "have", "has", "please", "hi", "hello", "any", "get", "if", "about",
    "so",
];
const STOP_DE: &[&str] = &[
    "der", "die", "das", "ein", "eine", "einen", "ist", "sind", "ich", "sie", "wir", "mein", "meine", "ihr", "ihre",
    "es", "zu", "von", "in", "im", "am", "an", "auf", "für", "und", "oder", "kann", "können", "was", "wann", "wie",
    "wo", "welche", "gibt", "mit", "habe", "hat", "bitte", "hallo", "den", "dem", "des", "bei", "man", "mich", "mir",
];
/// Words that only German uses often: enough to tell a German message from an English one.
const GERMAN_MARKERS: &[&str] = &[
    "ich",
    "sie",
    "und",
    "ist",
    "nicht",
    "wie",
    "wann",
    "kann",
    "können",
    "bitte",
    "danke",
    "gibt",
    "haben",
    "eine",
    "der",
    "die",
    "das",
    "mit",
    "für",
    "ihr",
    "wir",
    "auch",
    "noch",
    "termin",
    "möchte",
    "kostet",
    "geöffnet",
];

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(|w| w.to_lowercase())
}

/// Cuts common English and German inflections so "classes"/"class", "Kurse"/"Kurs" meet: plural
/// endings first (keeping "ss"), then verb endings and a final "e"/"en"/"er".
fn stem(w: &str) -> String {
    let mut w = w.replace('ä', "a").replace('ö', "o").replace('ü', "u").replace('ß', "ss");
    let cut = |w: &mut String, n: usize| w.truncate(w.len() - n);
    if w.len() > 4 && w.ends_with("ies") {
        cut(&mut w, 3);
        w.push('y');
    } else if w.len() > 4 && ["sses", "shes", "ches", "xes", "zes"].iter().any(|s| w.ends_with(s)) {
        cut(&mut w, 2);
    } else if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") {
        cut(&mut w, 1);
    }
    for suffix in ["ing", "ed", "en", "er", "e", "n"] {
        if w.len() > suffix.len() + 3 && w.ends_with(suffix) {
            cut(&mut w, suffix.len());
            break;
        }
    }
    w
}

/// The meaningful words of a text, stemmed.
#[derive(Debug, Clone, Default)]
pub struct Terms(HashSet<String>);

impl Terms {
    pub fn of(text: &str) -> Self {
        Terms(
            words(text)
                .filter(|w| !STOP_EN.contains(&w.as_str()) && !STOP_DE.contains(&w.as_str()))
                .map(|w| stem(&w))
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Dice overlap in [0, 1]: shared terms over the average size.
    pub fn overlap(&self, other: &Terms) -> f64 {
        if self.0.is_empty() || other.0.is_empty() {
            return 0.0;
        }
        let shared = self.0.intersection(&other.0).count() as f64;
        2.0 * shared / (self.0.len() + other.0.len()) as f64
    }
}

/// Whether the text reads as German rather than English.
pub fn is_german(text: &str) -> bool {
    let mut de = 0;
    let mut total = 0;
    for w in words(text) {
        total += 1;
        if GERMAN_MARKERS.contains(&w.as_str()) || w.contains(['ä', 'ö', 'ü', 'ß']) {
            de += 1;
        }
    }
    total > 0 && de * 4 >= total.max(2)
}

/// A bare greeting with nothing to answer yet.
pub fn is_greeting(text: &str) -> bool {
    let w: Vec<String> = words(text).collect();
    w.len() <= 3
        && w.first().is_some_and(|f| {
            ["hi", "hello", "hey", "hallo", "moin", "servus", "hiya", "morning", "tag", "guten"].contains(&f.as_str())
        })
}

/// The customer asks for a person: the pipeline hands off by rule, before any model is asked.
pub fn asks_for_human(text: &str) -> bool {
    let t: String = words(text).collect::<Vec<_>>().join(" ");
    const PHRASES: &[&str] = &[
        "human",
        "real person",
        "a person",
        "to someone",
        "speak to someone",
        "talk to someone",
        "representative",
        "customer service",
        "staff member",
        "team member",
        "live agent",
        "mensch",
        "mitarbeiter",
        "mit jemandem sprechen",
        "echte person",
        "person sprechen",
        "kundenservice",
    ];
    PHRASES.iter().any(|p| t.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_and_intents() {
        assert!(is_german("Wann habt ihr morgen geöffnet?"));
        assert!(is_german("Wie viel kostet eine Probestunde?"));
        assert!(!is_german("When are you open tomorrow?"));
        assert!(is_greeting("Hi!"));
        assert!(is_greeting("Guten Tag"));
        assert!(!is_greeting("Hi, what does a membership cost?"));
        assert!(asks_for_human("Can I talk to a real person please"));
        assert!(asks_for_human("Ich möchte mit einem Mitarbeiter sprechen"));
        assert!(!asks_for_human("What are your opening hours?"));
    }

    #[test]
    fn overlap_meets_inflections() {
        let q = Terms::of("What do your yoga classes cost?");
        let faq = Terms::of("How much does a yoga class cost");
        let other = Terms::of("Where can I park my car");
        assert!(q.overlap(&faq) > 0.6, "{}", q.overlap(&faq));
        assert_eq!(q.overlap(&other), 0.0);
    }
}
