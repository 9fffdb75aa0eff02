-- KEYS[1] the window. ARGV[1] window ms, ARGV[2] limit, ARGV[3] a fresh member.
return take_token(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3])
