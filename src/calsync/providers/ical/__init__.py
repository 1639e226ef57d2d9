"""iCalendar (RFC 5545) as CalDAV carries it: reading an object into the domain's
provider-neutral form, writing a booking, and editing someone else's object in place."""
