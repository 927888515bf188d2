"""How many words produce no sub-token at all with the packaged MiniLM tokenizer (U+200B, U+FE0F, bidi marks,
...), per split of the three NER benchmarks: the words whose position the NER scoring must keep (issue 20).

Usage: HF_HUB_OFFLINE=1 python benchmarks/runs/zero_subtoken_words.py > benchmarks/results/zero_subtoken_words.txt

Counts only (no text is printed). Words are tokenized without truncation, so a word cut by ``max_length`` is
not counted here. "tagged" counts the zero-sub-token words whose gold tag is not ``O``.
"""

from __future__ import annotations

from hamr import load_benchmark
from hamr.tasks import load_tokenizer

DATASETS = ("tweetner7", "bionlp", "mit_restaurant")


def main() -> None:
    tokenizer = load_tokenizer()
    print("Words without any sub-token (packaged all-MiniLM-L6-v2 tokenizer, no truncation)\n")
    print(f"{'dataset':<16}{'split':<12}{'sentences':>10}{'words':>9}{'sent. with':>12}{'such words':>12}"
          f"{'tagged':>8}  sentence indices (validation/test)")
    for name in DATASETS:
        bundle = load_benchmark(name)
        for split_name, split in bundle.splits().items():
            enc = tokenizer(split.tokens, is_split_into_words=True, truncation=False)
            n_words = sum(len(t) for t in split.tokens)
            sentences, words, tagged = [], 0, 0
            for i, tags in enumerate(split.labels):
                seen = {w for w in enc.word_ids(i) if w is not None}
                missing = [w for w in range(len(tags)) if w not in seen]
                if missing:
                    sentences.append(i)
                    words += len(missing)
                    tagged += sum(tags[w] != "O" for w in missing)
            where = "" if split_name == "train" else ", ".join(map(str, sentences))
            print(f"{name:<16}{split_name:<12}{len(split):>10}{n_words:>9}{len(sentences):>12}{words:>12}"
                  f"{tagged:>8}  {where}")


if __name__ == "__main__":
    main()
