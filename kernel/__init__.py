"""The shared kernel every restock package may import: the ORM base and column types, the catalog
(categories and SKUs), the error hierarchy, the clock, job locks and safe CSV writing.

It imports no other package of the project, so the domain packages (`forecasting`, `suppliers`,
`replenishment`) and the shell (`restock`) can all depend on it without depending on each other.
"""
