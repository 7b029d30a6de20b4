//! Text analysis shared by indexing and querying: tokens, English/German detection from stop
//! words, and Snowball stemming in the detected language.
//!
//! Detection counts the tokens that are stop words of each language (they make up a third to a
//! half of running text, so a few sentences decide reliably). When a text is too short to tell
//! — most questions — it is analysed in both languages and each word matches either stem.

use rust_stemmers::{Algorithm, Stemmer};
use std::collections::HashSet;
use std::sync::LazyLock;

/// A language we stem for; `Unknown` analyses in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    En,
    De,
    Unknown,
}

impl Language {
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::De => "de",
            Language::Unknown => "und",
        }
    }

    pub fn from_code(code: &str) -> Language {
        match code {
            "en" => Language::En,
            "de" => Language::De,
            _ => Language::Unknown,
        }
    }
}

const EN_STOP: &str = "a about above after again against all am an and any are aren't as at be because been before \
    being below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during \
    each few for from further had hadn't has hasn't have haven't having he her here hers herself him himself his how \
    i if in into is isn't it it's its itself let's me more most mustn't my myself no nor not of off on once only or \
    other ought our ours ourselves out over own same shan't she should shouldn't so some such than that the their \
    theirs them themselves then there these they this those through to too under until up very was wasn't we were \
    weren't what when where which while who whom why with won't would wouldn't you your yours yourself yourselves \
    will just also get got may might must shall us";

const DE_STOP: &str = "aber alle allem allen aller alles als also am an ander andere anderem anderen anderer anderes \
    anderm andern anderr anders auch auf aus bei bin bis bist da damit dann das dass dasselbe dazu daß dein deine \
    deinem deinen deiner deines dem demselben den denn denselben der derer derselbe die derselben des desselben dessen \
    dich dir du dies diese dieselbe dieselben diesem diesen dieser dieses doch dort durch ein eine einem einen einer \
    eines einig einige einigem einigen einiger einiges einmal er es etwas euch euer eure eurem euren eurer eures \
    für gegen gewesen hab habe haben hat hatte hatten hier hin hinter ich ihm ihn ihnen ihr ihre ihrem ihren ihrer \
    ihres im in indem ins ist jede jedem jeden jeder jedes jene jenem jenen jener jenes jetzt kann kein keine keinem \
    keinen keiner keines können könnte machen man manche manchem manchen mancher manches mein meine meinem meinen \
    meiner meines mich mir mit muss musste nach nicht nichts noch nun nur ob oder ohne sehr sein seine seinem seinen \
    seiner seines selbst sich sie ihnen sind so solche solchem solchen solcher solches soll sollte sondern sonst \
    über um und uns unsere unserem unseren unser unseres unter viel vom von vor während war waren warst was weg \
    weil weiter welche welchem welchen welcher welches wenn werde werden wie wieder will wir wird wirst wo wollen \
    wollte würde würden zu zum zur zwar zwischen gibt wann wer wieso warum wieviel";

static EN_STOPWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| EN_STOP.split_whitespace().collect());
static DE_STOPWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| DE_STOP.split_whitespace().collect());
static EN_STEMMER: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));
static DE_STEMMER: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::German));

/// Longest token kept (longer runs are ids, hashes or garbage).
const MAX_TOKEN_CHARS: usize = 40;

/// Lower-cased word tokens: runs of letters and digits (an apostrophe inside a word is kept so
/// that "don't" meets the stop list).
pub fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|t| t.trim_matches('\''))
        .filter(|t| !t.is_empty() && t.chars().count() <= MAX_TOKEN_CHARS)
        .map(str::to_lowercase)
}

/// The language of `text` from its stop words; `Unknown` when fewer than two are found or the
/// counts are close.
pub fn detect(text: &str) -> Language {
    let (mut en, mut de) = (0usize, 0usize);
    for t in tokens(text).take(2000) {
        if EN_STOPWORDS.contains(t.as_str()) {
            en += 1;
        }
        if DE_STOPWORDS.contains(t.as_str()) {
            de += 1;
        }
        if t.contains(['ä', 'ö', 'ü', 'ß']) {
            de += 1;
        }
    }
    if en + de < 2 {
        Language::Unknown
    } else if en * 2 > de * 3 {
        Language::En
    } else if de * 2 > en * 3 {
        Language::De
    } else {
        Language::Unknown
    }
}

fn is_stopword(token: &str, lang: Language) -> bool {
    match lang {
        Language::En => EN_STOPWORDS.contains(token),
        Language::De => DE_STOPWORDS.contains(token),
        Language::Unknown => EN_STOPWORDS.contains(token) || DE_STOPWORDS.contains(token),
    }
}

/// The stems of one word: one per language it is analysed in (deduplicated).
fn stems(token: &str, lang: Language) -> Vec<String> {
    let en = || EN_STEMMER.stem(token).into_owned();
    let de = || DE_STEMMER.stem(token).into_owned();
    match lang {
        Language::En => vec![en()],
        Language::De => vec![de()],
        Language::Unknown => {
            let (a, b) = (en(), de());
            if a == b {
                vec![a]
            } else {
                vec![a, b]
            }
        }
    }
}

/// The index terms of a text: stop words removed, each word stemmed in `lang` (both languages
/// when unknown, so the word is found by either stem).
pub fn terms(text: &str, lang: Language) -> Vec<String> {
    let mut out = Vec::new();
    for t in tokens(text) {
        if is_stopword(&t, lang) {
            continue;
        }
        out.extend(stems(&t, lang));
    }
    out
}

/// One word of a question: the lower-cased token and its alternative stems (one per language it
/// is analysed in); a passage scores the word by its best stem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryWord {
    pub token: String,
    pub stems: Vec<String>,
}

/// A question as search words (stop words removed, each word once), and its language. Words of a
/// question whose language is unclear get a stem per language.
pub fn query_words(text: &str) -> (Language, Vec<QueryWord>) {
    let lang = detect(text);
    let mut seen = HashSet::new();
    let mut words = Vec::new();
    let all: Vec<String> = tokens(text).collect();
    // A question made only of stop words ("who are you") still searches for its words.
    let keep_stopwords = all.iter().all(|t| is_stopword(t, lang));
    for t in all {
        if (!keep_stopwords && is_stopword(&t, lang)) || seen.contains(&t) {
            continue;
        }
        seen.insert(t.clone());
        let stems = stems(&t, lang);
        words.push(QueryWord { token: t, stems });
    }
    (lang, words)
}

/// The German stem of a lower-cased word (compound parts are looked up by it).
pub fn german_stem(token: &str) -> String {
    DE_STEMMER.stem(token).into_owned()
}

/// Whitespace-separated word count (chunk sizes are measured in words).
pub fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// Removes control characters (but newlines and tabs), soft hyphens and zero-width characters,
/// trims trailing spaces and collapses runs of blank lines.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.lines() {
        let line: String = line
            .chars()
            .filter(|&c| !matches!(c, '\u{AD}' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{FEFF}'))
            .map(|c| if c == '\t' || c == '\u{A0}' { ' ' } else { c })
            .filter(|c| !c.is_control())
            .collect();
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank_run += 1;
            if blank_run == 1 && !out.is_empty() {
                out.push('\n');
            }
            continue;
        }
        blank_run = 0;
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_owned()
}

/// Collapses all whitespace to single spaces.
pub fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_english_and_german() {
        assert_eq!(detect("What are the opening hours of the studio on the weekend?"), Language::En);
        assert_eq!(detect("Wann hat das Studio am Wochenende geöffnet und wie teuer ist es?"), Language::De);
        assert_eq!(detect("Yoga"), Language::Unknown);
    }

    #[test]
    fn stems_match_across_inflections() {
        let doc = terms("Our trainers offer classes every morning", Language::En);
        let (_, q) = query_words("class trainer");
        for word in q {
            assert!(word.stems.iter().any(|s| doc.contains(s)), "{word:?} in {doc:?}");
        }
        let de = terms("Die Öffnungszeiten der Kurse", Language::De);
        let (lang, q) = query_words("Wann sind die Öffnungszeiten für die Kurse?");
        assert_eq!(lang, Language::De);
        assert_eq!(q.iter().map(|w| w.token.as_str()).collect::<Vec<_>>(), ["öffnungszeiten", "kurse"]);
        assert!(q.iter().all(|w| w.stems.iter().any(|s| de.contains(s))), "{q:?} in {de:?}");
        assert_eq!(german_stem("färbetermine"), "farbetermin", "umlauts fold");
    }

    #[test]
    fn stop_word_only_questions_keep_their_words() {
        let (_, words) = query_words("who are you");
        assert_eq!(words.len(), 3);
        let (_, words) = query_words("the price of the sauna sauna");
        assert_eq!(words.len(), 2);
    }

    #[test]
    fn clean_removes_noise_and_blank_runs() {
        let t = clean("Hel\u{AD}lo\u{200B}  \n\n\n\nWorld\u{7}\t!");
        assert_eq!(t, "Hello\n\nWorld !");
    }
}
