package scoring

// The corpus and the shipped model are both generated with fixed seeds and
// committed; `go generate ./hub/scoring/` rebuilds them byte for byte.
//go:generate go run ./internal/corpusgen -seed 7 -n 1400 -out testdata/corpus.jsonl
//go:generate go run ./internal/modeltrain -corpus testdata/corpus.jsonl -out prior.json
