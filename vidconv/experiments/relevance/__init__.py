"""Chapter 10: token budgets, relevance in context, selection, compression."""
