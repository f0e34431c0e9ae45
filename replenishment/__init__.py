"""replenishment: inventory position, targets, the MILP optimizer, proposals and their explanations."""
