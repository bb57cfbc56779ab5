"""The firm registry: identity, sector, place, size, offers, needs and goals."""
