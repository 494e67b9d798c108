#!/bin/sh
# A stand-in application for `make run`: tykhook hands it each ok delivery, the body on standard
# input and the event, key, attempt and Timestamp in the environment. It appends them to
# deliveries.log. While a file named application.down exists it exits 75 ("try again later"),
# as an application whose database is down would: the deliveries wait in the queue.
[ -e application.down ] && exit 75
{
  printf '%s %s %s attempt %s\n' "$TYKHOOK_TIMESTAMP" "$TYKHOOK_EVENT" "$TYKHOOK_DELIVERY" \
    "$TYKHOOK_ATTEMPT"
  cat
  echo
} >> deliveries.log
