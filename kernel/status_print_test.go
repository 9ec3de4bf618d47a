package kernel_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/kernel"
)

// recordingT is a testify TestingT that keeps the failure message.
type recordingT struct{ msg string }

func (r *recordingT) Errorf(format string, args ...any) { r.msg += fmt.Sprintf(format, args...) }

// A failed assertion on a status names both values, as a user reads them in a test log.
func TestStatusesPrintNamesInTestify(t *testing.T) {
	for _, tc := range []struct {
		want, got any
		texts     []string
	}{
		{kernel.S_OK, kernel.E_ACCESSDENIED, []string{"S_OK (0x00000000)", "E_ACCESSDENIED (0x80070005)"}},
		{kernel.STATUS_SUCCESS, kernel.STATUS_PORT_DISCONNECTED, []string{"STATUS_SUCCESS (0x00000000)", "STATUS_PORT_DISCONNECTED (0xC0000037)"}},
		{kernel.ERROR_SUCCESS, kernel.ERROR_ACCESS_DENIED, []string{"ERROR_SUCCESS", "ERROR_ACCESS_DENIED"}},
	} {
		rt := &recordingT{}
		require.False(t, assert.Equal(rt, tc.want, tc.got))
		for _, text := range tc.texts {
			require.Contains(t, rt.msg, text)
		}
		require.NotContains(t, rt.msg, "0x0\n")
	}
	require.Equal(t, "E_HANDLE (0x80070006)", fmt.Sprintf("%#v", kernel.E_HANDLE))
}
