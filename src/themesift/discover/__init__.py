"""Candidate codes: meaning units grouped by what they say, each named by keywords and quotes.

How codes are found
-------------------
1. Every meaning unit is a vector (from the embedder, or given). Vectors are L2-normalised, so
   cosine similarity is what "close" means throughout.
2. The units are grouped. BERTopic hosts the pipeline, with blocks chosen for the corpus size:

   * **Fewer than 5,000 units** (every focus-group study): no dimension reduction and Ward
     clustering of the vectors. UMAP + HDBSCAN, BERTopic's defaults, are built for tens of
     thousands of documents; on a few hundred meaning units they leave about half of them in
     the outlier topic (52% of the 251 units of the sample transcripts). On unit vectors the
     squared Euclidean distance is ``2 - 2 cos``, so Ward makes codes whose members are close
     in cosine terms. Average linkage on cosine distance chains spoken talk into one giant
     code, and k-means depends on its seed and gives a noisier silhouette curve; Ward is
     deterministic, matches or beats k-means against a hand coding at the same k, and one
     merge tree gives every candidate number of codes. The number of codes ``k`` is the one
     with the best mean silhouette (cosine) in ``[max(6, n/60), min(40, n/8)]``, so a code
     has about 8 to 60 units (the lower end is at most 20, so that large corpora still get a
     choice, and 6 only where there are 8 units for each: one focus group alone gets a
     handful of codes, not the two that n/60 allows). If dissolving codes too small to stand
     (step 3) leaves fewer than the lower end, the next best k is taken.
   * **5,000 units or more**: BERTopic's defaults, UMAP (5 dimensions, cosine) and HDBSCAN,
     with a minimum code size of 10 that grows with the corpus (0.1% of the units).
3. Outliers are flagged and kept, never dropped. (Units flagged ``small_talk`` or
   ``short_reply`` are not grouped at all: see :mod:`themesift.smalltalk` and
   :func:`themesift.segment.is_short_reply`.) With Ward or k-means, units that fit their
   group poorly (negative silhouette: closer to another group than to their own; or a distance
   to the group's centre above its upper Tukey fence, Q3 + 1.5 IQR) move to the code with the
   nearest centre, and groups with fewer than ``min_code_size`` well-fitting members are
   dissolved the same way. A unit is then flagged as an outlier if it still fits its final
   code poorly by the same two tests, or its group was dissolved. With HDBSCAN the outliers
   are HDBSCAN's noise, given their nearest code by BERTopic's
   ``reduce_outliers(strategy="embeddings")``.
4. Each code gets keywords from class-based TF-IDF (BERTopic's c-TF-IDF) over its members'
   words, with English stop words and spoken fillers ("um", "yeah", "you know", "[laughs]")
   removed: the 30 best-scoring words and two-word phrases are re-ranked by how close their
   embedding is to the code's centre, with maximal marginal relevance so that the keywords
   are not near synonyms (KeyBERT-style). Its label is a phrase of two to six words in the
   participants' own words ("ring the housing officer", "letting yourself hope again is
   scary"), or two such key phrases joined by a comma: stretches of the members nearest the
   centre that start and end on a content word and hold no filler, time, number or name,
   chosen together for all codes so that the closest label to as many units as possible is
   their own code's (see _labels.phrase_labels).
5. The codes are kept in ``codes.sqlite`` in the cache folder, keyed by everything they depend
   on: the units (ids, texts, speakers, transcripts), their vectors, the keyword model, the
   parameters, the seed, the library versions and the source of this package, of
   :mod:`themesift.text` (stop words) and of :mod:`themesift.smalltalk` (which units are small
   talk). Re-running a study (say with an edited framework) reads them back instead of
   clustering again; the last ``CODE_CACHE_ENTRIES`` sets are kept.
"""

from __future__ import annotations

# The modules of this package, each importing only those above it in this list:
#   _cache      the cache of codes (codes.sqlite) and what its key hashes
#   _input      checking the parameters and the units table; the units' vectors
#   _words      the words that can become keywords: stop words, terms, the vocabulary
#   _geometry   cosine distances, the centres of codes, silhouettes
#   _bertopic   the BERTopic model, its keyword block (c-TF-IDF re-ranked with MMR), keyword labels
#   _partition  small corpora: Ward or k-means, k by silhouette, settling poor fits
#   _hdbscan    large corpora: UMAP + HDBSCAN
#   _labels     phrase labels in the participants' own words
#   _tables     the code and assignment tables
#   _discover   discover_codes
from ._discover import discover_codes
from ._input import METHODS, check_n_codes
from ._tables import ASSIGNMENT_COLUMNS, TABLE_COLUMNS

__all__ = ["discover_codes", "METHODS", "TABLE_COLUMNS", "ASSIGNMENT_COLUMNS"]
