"""Master data: the rules every customer, contract, line and rate passes; exchange rates."""
