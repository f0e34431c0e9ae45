"""kernel: what every restock package may share (job locks, safe CSV writing); it imports no package."""
