"""Folding Arabic and Latin spelling variants for follows and search."""

from hypothesis import given
from hypothesis import strategies as st

from content.normalise import contains_phrase, fold, normalise, words


def test_hamza_forms_of_alef_fold_to_alef() -> None:
    assert normalise("أحمد إبراهيم آمال") == normalise("احمد ابراهيم امال")


def test_alef_maqsura_and_ta_marbuta() -> None:
    assert normalise("مستشفى المدينة") == normalise("مستشفي المدينه")


def test_diacritics_and_tatweel_are_dropped() -> None:
    assert normalise("مَدْرَسَةٌ") == normalise("مدرسة")
    assert normalise("الســـلام") == normalise("السلام")


def test_arabic_indic_digits_are_latin_digits() -> None:
    assert normalise("عام ٢٠٢٦") == "عام 2026"
    assert normalise("۱۲") == "12"


def test_latin_case_and_accents() -> None:
    assert normalise("Café São PAULO") == "cafe sao paulo"
    assert fold("Straße") == "strasse"


def test_words_split_on_punctuation_not_on_letters() -> None:
    assert words("«غزة»، اليوم: Gaza-City!") == ["غزه", "اليوم", "gaza", "city"]


def test_phrase_matches_on_word_boundaries_only() -> None:
    assert contains_phrase("The Central Bank raised rates", "central bank")
    assert not contains_phrase("Banking news", "bank")
    assert contains_phrase("قال رئيس الوزراء إن", "رئيس الوزراء")
    assert not contains_phrase("anything", "  ")


def test_presentation_forms_read_as_letters() -> None:
    assert normalise("\ufefb") == normalise("لا")


@given(st.text())
def test_normalising_twice_changes_nothing(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


@given(st.text(), st.text())
def test_a_text_contains_each_of_its_own_words(prefix: str, suffix: str) -> None:
    text = f"{prefix} Zeitung {suffix}"
    assert contains_phrase(text, "zeitung")
