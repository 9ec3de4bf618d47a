package scanuser_test

import (
	"testing"

	"github.com/fltemu/fltemu/internal/testmain"
)

func TestMain(m *testing.M) { testmain.Main(m) }
