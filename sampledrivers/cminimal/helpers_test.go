package cminimal_test

import "strconv"

func strconvItoa(v int) string { return strconv.Itoa(v) }
