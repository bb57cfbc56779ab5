"""Networks: proposals, invitations, introductions and whole-network suggestions."""
