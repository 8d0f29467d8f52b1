// The admin console (being written): mountAdmin(container, ctx).
