"""Month-end invoice runs (`service`), sent by a background job (`tasks`)."""
