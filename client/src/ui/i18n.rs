//! Translations: one Project Fluent file per language (`client/locales/CODE/main.ftl`),
//! compiled into the binary.
//!
//! Why it exists: every string the player reads goes through [`Localizer::text`] so that the
//! seven languages of the original game (en, es, fr, ja, pl, ru, zh) are complete and
//! switchable at run time. A key missing in a language falls back to English (a test makes
//! sure none is missing); a key missing in English shows the key itself, never a panic.

use fluent_bundle::{FluentArgs, FluentBundle, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

/// The languages shipped, as (code, Fluent source), English first.
pub const LANGUAGES: [(&str, &str); 7] = [
    ("en", include_str!("../../locales/en/main.ftl")),
    ("es", include_str!("../../locales/es/main.ftl")),
    ("fr", include_str!("../../locales/fr/main.ftl")),
    ("ja", include_str!("../../locales/ja/main.ftl")),
    ("pl", include_str!("../../locales/pl/main.ftl")),
    ("ru", include_str!("../../locales/ru/main.ftl")),
    ("zh", include_str!("../../locales/zh/main.ftl")),
];

/// Why a language could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum I18nError {
    /// Not one of [`LANGUAGES`].
    #[error("unknown language {0:?}; available: en, es, fr, ja, pl, ru, zh")]
    Unknown(String),
    /// The shipped file does not parse (a build defect, caught by the tests).
    #[error("the {code} translation does not parse: {detail}")]
    Parse {
        /// Language code.
        code: String,
        /// Fluent's errors.
        detail: String,
    },
}

/// The codes of [`LANGUAGES`].
pub fn codes() -> impl Iterator<Item = &'static str> {
    LANGUAGES.iter().map(|(c, _)| *c)
}

/// Matches a locale like `fr-FR`, `pt_BR.UTF-8` or `zh-Hans-CN` to a shipped code.
pub fn match_language(locale: &str) -> Option<&'static str> {
    let lang = locale
        .split(['-', '_', '.', '@'])
        .next()?
        .to_ascii_lowercase();
    codes().find(|c| *c == lang)
}

/// The system's language: the first of its preferred languages (in the page,
/// `navigator.languages`) that we ship.
pub fn system_language() -> Option<&'static str> {
    sys_locale::get_locales().find_map(|l| match_language(&l))
}

/// Picks the language: the command line, then the settings, then the system, then English.
pub fn pick_language(
    cli: Option<&str>,
    settings: Option<&str>,
    system: Option<&'static str>,
) -> &'static str {
    cli.and_then(match_language)
        .or_else(|| settings.and_then(match_language))
        .or(system)
        .unwrap_or("en")
}

fn bundle(code: &str, source: &str) -> Result<FluentBundle<FluentResource>, I18nError> {
    let parse_err = |detail: String| I18nError::Parse {
        code: code.to_owned(),
        detail,
    };
    let resource = FluentResource::try_new(source.to_owned())
        .map_err(|(_, errors)| parse_err(format!("{errors:?}")))?;
    let id: LanguageIdentifier = code.parse().map_err(|e| parse_err(format!("{e}")))?;
    let mut bundle = FluentBundle::new(vec![id]);
    // No Unicode isolation marks around arguments: they would need glyphs and add nothing here.
    bundle.set_use_isolating(false);
    bundle
        .add_resource(resource)
        .map_err(|errors| parse_err(format!("{errors:?}")))?;
    Ok(bundle)
}

/// One language, with English behind it.
pub struct Localizer {
    code: &'static str,
    bundle: FluentBundle<FluentResource>,
    english: FluentBundle<FluentResource>,
}

impl std::fmt::Debug for Localizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Localizer")
            .field("code", &self.code)
            .finish()
    }
}

impl Localizer {
    /// Loads `code` (one of [`LANGUAGES`]).
    pub fn new(code: &str) -> Result<Localizer, I18nError> {
        let (code, source) = LANGUAGES
            .iter()
            .find(|(c, _)| *c == code)
            .ok_or_else(|| I18nError::Unknown(code.to_owned()))?;
        Ok(Localizer {
            code,
            bundle: bundle(code, source)?,
            english: bundle("en", LANGUAGES[0].1)?,
        })
    }

    /// English, which always loads (the tests check it).
    pub fn english() -> Localizer {
        match Localizer::new("en") {
            Ok(l) => l,
            Err(e) => panic!("the shipped English translation is broken: {e}"),
        }
    }

    /// The language code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The text for `key`.
    pub fn text(&self, key: &str) -> String {
        self.format(key, None)
    }

    /// The text for `key` with named arguments (strings or numbers).
    pub fn text_with(&self, key: &str, args: &[(&str, Arg)]) -> String {
        let mut fa = FluentArgs::new();
        for (name, value) in args {
            match value {
                Arg::Str(s) => fa.set(*name, FluentValue::from(s.clone())),
                Arg::Num(n) => fa.set(*name, FluentValue::from(*n)),
            }
        }
        self.format(key, Some(&fa))
    }

    fn format(&self, key: &str, args: Option<&FluentArgs>) -> String {
        for b in [&self.bundle, &self.english] {
            if let Some(pattern) = b.get_message(key).and_then(|m| m.value()) {
                let mut errors = Vec::new();
                let text = b.format_pattern(pattern, args, &mut errors);
                if errors.is_empty() {
                    return text.into_owned();
                }
            }
        }
        key.to_owned()
    }
}

/// An argument to a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// A string, shown as is.
    Str(String),
    /// A number (plural rules apply).
    Num(f64),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Str(s.to_owned())
    }
}
impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Str(s)
    }
}
impl From<usize> for Arg {
    fn from(n: usize) -> Arg {
        Arg::Num(n as f64)
    }
}
impl From<u32> for Arg {
    fn from(n: u32) -> Arg {
        Arg::Num(f64::from(n))
    }
}

/// The message ids defined in a Fluent source (for completeness checks).
pub fn message_ids(source: &str) -> Vec<String> {
    let resource = match FluentResource::try_new(source.to_owned()) {
        Ok(r) => r,
        Err((r, _)) => r,
    };
    resource
        .entries()
        .filter_map(|e| match e {
            fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_parses_and_has_every_english_key() {
        let english = message_ids(LANGUAGES[0].1);
        assert!(english.len() > 40, "English has {} keys", english.len());
        for (code, source) in LANGUAGES {
            Localizer::new(code).unwrap_or_else(|e| panic!("{e}"));
            let ids = message_ids(source);
            let missing: Vec<_> = english.iter().filter(|k| !ids.contains(k)).collect();
            assert!(missing.is_empty(), "{code} misses {missing:?}");
            let extra: Vec<_> = ids.iter().filter(|k| !english.contains(k)).collect();
            assert!(extra.is_empty(), "{code} has keys English lacks: {extra:?}");
        }
    }

    /// Messages that are rightly the same as English in a language (the same word, or a
    /// symbol players read as is); every other message must be translated.
    const SAME_AS_ENGLISH: &[(&str, &[&str])] = &[
        ("hud-coords", &["es", "fr", "ja", "pl", "ru", "zh"]),
        ("hud-fps", &["es", "ja", "pl", "ru", "zh"]),
        ("hud-health", &["ja", "pl"]),
        ("menu-options", &["fr"]),
        ("options-title", &["fr"]),
        ("menu-version", &["fr"]),
    ];

    #[test]
    fn every_message_is_translated_unless_listed_as_the_same() {
        let english = Localizer::english();
        let mut untranslated = Vec::new();
        for (code, _) in LANGUAGES.iter().skip(1) {
            let l = Localizer::new(code).unwrap();
            for key in message_ids(LANGUAGES[0].1) {
                let args = sample_args();
                let same = l.text_with(&key, &args) == english.text_with(&key, &args);
                let listed = SAME_AS_ENGLISH
                    .iter()
                    .any(|(k, codes)| *k == key && codes.contains(code));
                if same != listed {
                    untranslated.push(format!("{code}:{key} (same as English: {same})"));
                }
            }
        }
        assert!(
            untranslated.is_empty(),
            "untranslated, or listed as the same but translated: {untranslated:?}"
        );
    }

    fn sample_args() -> Vec<(&'static str, Arg)> {
        vec![
            ("address", "127.0.0.1:35000".into()),
            ("name", "alice".into()),
            ("n", 3u32.into()),
            ("max", 10u32.into()),
            ("percent", 50u32.into()),
            ("cause", "lava".into()),
            ("amount", 7u32.into()),
            ("x", 1u32.into()),
            ("y", 2u32.into()),
            ("fps", 60u32.into()),
            ("version", "0.1.0".into()),
            ("tick", 5u32.into()),
            ("ping", 12u32.into()),
            ("kbin", 1u32.into()),
            ("kbout", 2u32.into()),
            ("detail", "x".into()),
            ("char", "😀".into()),
            ("code", "U+1F600".into()),
        ]
    }

    #[test]
    fn every_message_formats_without_errors_in_every_language() {
        let english = message_ids(LANGUAGES[0].1);
        for (code, _) in LANGUAGES {
            let l = Localizer::new(code).unwrap();
            for key in &english {
                let text = l.text_with(key, &sample_args());
                assert_ne!(&text, key, "{code}: {key} did not format");
                assert!(
                    !text.contains('{'),
                    "{code}: {key} left a placeable: {text}"
                );
            }
        }
    }

    #[test]
    fn languages_differ_and_arguments_are_placed() {
        let en = Localizer::new("en").unwrap();
        let ja = Localizer::new("ja").unwrap();
        assert_ne!(en.text("menu-join"), ja.text("menu-join"));
        let t = en.text_with("error-refused", &[("address", "10.0.0.1:35000".into())]);
        assert!(t.contains("10.0.0.1:35000"), "{t}");
        assert_eq!(en.text("no-such-key"), "no-such-key");
    }

    #[test]
    fn languages_are_picked_in_order() {
        assert_eq!(pick_language(Some("fr"), Some("ja"), Some("ru")), "fr");
        assert_eq!(pick_language(Some("xx"), Some("ja"), Some("ru")), "ja");
        assert_eq!(pick_language(None, None, Some("ru")), "ru");
        assert_eq!(pick_language(None, None, None), "en");
        assert_eq!(match_language("zh_CN.UTF-8"), Some("zh"));
        assert_eq!(match_language("pl-PL"), Some("pl"));
        assert_eq!(match_language("de-DE"), None);
        assert!(matches!(Localizer::new("de"), Err(I18nError::Unknown(_))));
    }
}
