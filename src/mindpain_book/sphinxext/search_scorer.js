// The book's search ranking (Sphinx's html_search_scorer, inlined into language_data.js).
// Sphinx's own weights, unchanged, decide the order within three tiers, and the tiers come
// in this order: the chapters, then the other pages of the book (the glossary, the reading
// pages), then the API reference. A search for a concept ("NPS") finds the chapter that
// explains it before the functions that compute it.
var Scorer = {
  score: (result) => {
    const [docname, , , , score] = result;
    if (docname.startsWith("notebooks/")) return score + 2000;
    if (docname.startsWith("book/api/")) return score;
    return score + 1000;
  },
  objNameMatch: 11,
  objPartialMatch: 6,
  objPrio: {0: 15, 1: 5, 2: -5},
  objPrioDefault: 0,
  title: 15,
  partialTitle: 7,
  term: 5,
  partialTerm: 2,
};
