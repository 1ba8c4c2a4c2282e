"""The reference server's toy tokenizer.

One token is one whitespace-delimited word. Words in VOCABULARY have their index as id, so the
ids are stable across releases as long as the tuple is only ever appended to. Any other text
(words from the prompt, JSON punctuation, fragments left by a stop sequence) gets an id derived
from a SHA-256 of its stripped text, above the vocabulary range, so the same text always has the
same id. Token *text* carries its leading space (" two"): a completion's tokens concatenate to
its content exactly, which is what logprobs and streamed deltas promise.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

VOCABULARY: tuple[str, ...] = (
    # numbers first: prompts such as "Repeat exactly: one two three" use them
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen", "twenty", "hundred", "thousand",
    # colours
    "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white",
    "gray", "silver", "gold",
    # animals
    "cat", "dog", "bird", "fish", "horse", "cow", "sheep", "goat", "lion", "tiger", "bear",
    "wolf", "fox", "rabbit", "mouse", "owl", "eagle", "duck", "frog", "bee",
    # nature
    "sun", "moon", "star", "sky", "cloud", "rain", "snow", "wind", "storm", "river", "lake",
    "sea", "ocean", "hill", "mountain", "valley", "forest", "tree", "leaf", "flower", "grass",
    "stone", "sand", "field", "garden", "island", "desert", "road", "path", "bridge",
    # things
    "house", "door", "window", "table", "chair", "book", "paper", "pen", "letter", "lamp",
    "clock", "bell", "boat", "ship", "train", "car", "wheel", "box", "basket", "cup", "plate",
    "bread", "apple", "pear", "lemon", "cheese", "milk", "tea", "coffee", "honey", "salt",
    "key", "coin", "ring", "map", "song", "story", "picture", "game", "ball", "kite",
    # people and places
    "friend", "family", "child", "teacher", "doctor", "farmer", "king", "queen", "city",
    "town", "village", "school", "market", "library", "kitchen", "harbor", "station", "tower",
    # time
    "morning", "evening", "night", "day", "week", "month", "year", "spring", "summer",
    "autumn", "winter", "today", "tomorrow", "yesterday", "soon", "later", "always", "never",
    # verbs
    "is", "are", "was", "be", "have", "has", "make", "go", "come", "see", "look", "find",
    "give", "take", "bring", "hold", "keep", "walk", "run", "jump", "swim", "fly", "sing",
    "read", "write", "draw", "paint", "build", "open", "close", "start", "stop", "help",
    "play", "rest", "sleep", "wake", "grow", "cook", "eat", "drink", "learn", "teach",
    "think", "know", "remember", "carry", "follow", "wait", "listen", "watch", "travel",
    # adjectives
    "big", "small", "tall", "short", "long", "wide", "narrow", "old", "new", "young", "fast",
    "slow", "warm", "cold", "hot", "cool", "bright", "dark", "quiet", "loud", "soft", "hard",
    "happy", "calm", "gentle", "brave", "kind", "clever", "simple", "clear", "fresh", "sweet",
    "quick", "early", "late", "near", "far", "high", "low", "full", "empty", "round", "square",
    # function words
    "the", "a", "an", "and", "or", "but", "so", "then", "of", "to", "in", "on", "at", "by",
    "for", "with", "from", "over", "under", "after", "before", "around", "through",
    "into", "about", "this", "that", "these", "those", "it", "they", "we", "you", "he", "she",
    "our", "their", "its", "every", "some", "many", "few", "all", "each", "very", "too",
    "also", "here", "there", "now", "yes", "no", "not", "again", "together", "slowly",
    "quickly", "gladly", "answer", "question", "word", "idea", "plan", "light", "water",
    "fire", "earth", "air", "music", "dream", "home", "world",
)

# Hash-derived ids live in [VOCABULARY_SIZE, TOKEN_ID_SPACE); logit_bias keys outside this space
# name no token at all and are rejected.
TOKEN_ID_SPACE = 1 << 20

_INDEX: dict[str, int] = {w: i for i, w in enumerate(VOCABULARY)}
assert len(_INDEX) == len(VOCABULARY), "VOCABULARY must not repeat a word"
VOCABULARY_SIZE = len(VOCABULARY)

_PIECE = re.compile(r"\s*(?:\w+|[^\w\s])")


@lru_cache(maxsize=1 << 16)  # a SHA-256 per word otherwise; prompts and replies repeat their words
def token_id(text: str) -> int:
    """Stable id of a token's text (its leading whitespace is not part of its identity)."""
    word = text.strip()
    if word in _INDEX:
        return _INDEX[word]
    digest = int.from_bytes(hashlib.sha256(word.encode("utf-8")).digest()[:8], "big")
    return VOCABULARY_SIZE + digest % (TOKEN_ID_SPACE - VOCABULARY_SIZE)


@dataclass(frozen=True)
class Token:
    text: str
    id: int

    @classmethod
    def of(cls, text: str) -> "Token":
        return cls(text, token_id(text))


def word_tokens(words: list[str]) -> list[Token]:
    """Prose: words joined by single spaces, each word after the first carrying its space."""
    return [Token.of(w if i == 0 else " " + w) for i, w in enumerate(words)]


def split_pieces(text: str) -> list[Token]:
    """Tokenise arbitrary text (JSON, tool arguments) so the pieces concatenate back to it."""
    pieces = _PIECE.findall(text)
    rest = text[sum(len(p) for p in pieces):]
    if rest:  # only trailing whitespace can be left over
        pieces.append(rest)
    return [Token.of(p) for p in pieces]


def count_words(text: str) -> int:
    return len(text.split())
