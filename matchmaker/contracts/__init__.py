"""Network contracts: typed body, law checklist, versions, review, signature and documents."""
