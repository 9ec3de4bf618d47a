package fltlib

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
)

func TestCheckConnect(t *testing.T) {
	ok := func(hr kernel.HRESULT) bool { return hr == kernel.S_OK }
	require.True(t, ok(checkConnect(`\P`, 0, nil, 0)))
	require.True(t, ok(checkConnect(`\P`, 1, []byte{1}, 1)))
	require.False(t, ok(checkConnect("", 0, nil, 0)))
	require.False(t, ok(checkConnect(`\P`, 2, nil, 0)))
	require.False(t, ok(checkConnect(`\P`, 0, nil, 3)))
	require.False(t, ok(checkConnect(`\P`, 0, []byte{1}, 0)))
	require.False(t, ok(checkConnect(`\P`, 0, []byte{1}, 2)))
	require.False(t, ok(checkConnect(`\P`, 0, []byte{1}, -1)))
	big := make([]byte, 65512)
	require.False(t, ok(checkConnect(`\P`, 0, big, len(big))))
	require.True(t, ok(checkConnect(`\P`, 0, big, 65511)))
}

func TestCheckBuffers(t *testing.T) {
	require.Equal(t, kernel.E_INVALIDARG, checkGetBuffer(nil))
	require.Equal(t, kernel.E_INVALIDARG, checkGetBuffer(make([]byte, driverapi.FilterMessageHeaderSize-1)))
	require.Equal(t, kernel.S_OK, checkGetBuffer(make([]byte, driverapi.FilterMessageHeaderSize)))
	require.Equal(t, kernel.E_INVALIDARG, checkReplyBuffer(make([]byte, driverapi.FilterReplyHeaderSize-1)))
	require.Equal(t, kernel.S_OK, checkReplyBuffer(make([]byte, driverapi.FilterReplyHeaderSize)))
	require.Equal(t, kernel.E_INVALIDARG, checkSend(nil, nil))
	require.Equal(t, kernel.E_INVALIDARG, checkSend([]byte{}, make([]byte, 4)))
	require.Equal(t, kernel.S_OK, checkSend([]byte{1}, nil))
}

func TestTimeoutMillis(t *testing.T) {
	require.Equal(t, uint32(0xFFFFFFFF), timeoutMillis(INFINITE))
	require.Equal(t, uint32(0xFFFFFFFF), timeoutMillis(-5*time.Second))
	require.Equal(t, uint32(0), timeoutMillis(0))
	require.Equal(t, uint32(1), timeoutMillis(time.Nanosecond))
	require.Equal(t, uint32(1500), timeoutMillis(1500*time.Millisecond))
	require.Equal(t, uint32(0xFFFFFFFE), timeoutMillis(time.Duration(1<<62)))
}

func TestErrorMapping(t *testing.T) {
	require.NoError(t, win32Error(0))
	require.Equal(t, kernel.ERROR_NOT_FOUND, win32Error(1168))
	require.NoError(t, completionError(kernel.STATUS_SUCCESS))
	require.NoError(t, completionError(kernel.STATUS_TIMEOUT)) // a success code
	require.Equal(t, kernel.ERROR_OPERATION_ABORTED, completionError(kernel.STATUS_CANCELLED))
	require.Equal(t, kernel.ERROR_INVALID_HANDLE, completionError(kernel.STATUS_PORT_DISCONNECTED))
}

func TestHResultOf(t *testing.T) {
	require.Equal(t, kernel.HRESULT(0x80070005), hresultOf(kernel.ERROR_ACCESS_DENIED))
	require.Equal(t, kernel.E_FAIL, hresultOf(io.EOF))
}
