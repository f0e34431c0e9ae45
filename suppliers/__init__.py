"""suppliers: suppliers, supplier items, rebate agreements and tier math, purchase orders."""
