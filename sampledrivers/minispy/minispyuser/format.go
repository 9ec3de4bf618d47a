package minispyuser

import (
	"fmt"
	"strings"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/kernel"
	"github.com/fltemu/fltemu/sampledrivers/minispy/minispyproto"
)

// Header is the first line of the log, naming the tab-separated columns of FormatRecord.
const Header = "Opr\tSeqNum\tPreOp Time\tPostOp Time\tProcess.Thrd\tMajor Operation\tMinor Operation\t" +
	"IrpFlags\tDevObj\tFileObj\tTransactn\tstatus:inform\tArg 1\tArg 2\tArg 3\tArg 4\tArg 5\tArg 6\tName\n"

// FormatRecord formats a record as one line of the sample's log file (its FileDump), tab
// separated: the kind of operation (IRP, FIO for fast I/O, FSF, ERR), the sequence number, the
// pre- and post-operation times (hh:mm:ss:mmm, UTC; the C program shows local time), the
// process and thread ids, the major and minor operation, the IRP flags with their letters
// (N no cache, P paging, S synchronous API, Y synchronous paging), the device, file and
// transaction ids, status:information, the six arguments and the name. The line ends with
// "\n".
func FormatRecord(r *minispyproto.LogRecord) string {
	d := &r.Data
	var b strings.Builder
	switch {
	case d.Flags&driverapi.FLTFL_CALLBACK_DATA_IRP_OPERATION != 0:
		b.WriteString("IRP")
	case d.Flags&driverapi.FLTFL_CALLBACK_DATA_FAST_IO_OPERATION != 0:
		b.WriteString("FIO")
	case d.Flags&driverapi.FLTFL_CALLBACK_DATA_FS_FILTER_OPERATION != 0:
		b.WriteString("FSF")
	default:
		b.WriteString("ERR")
	}
	fmt.Fprintf(&b, "\t0x%08X\t%-12s\t%-12s", r.SequenceNumber, clock(d.OriginatingTime), clock(d.CompletionTime))
	fmt.Fprintf(&b, "\t%8x.%-4x ", d.ProcessId, d.ThreadId)
	major, minor := OperationNames(d.CallbackMajorId, d.CallbackMinorId)
	fmt.Fprintf(&b, "\t%-35s\t%-35s", major, minor)
	fmt.Fprintf(&b, "\t0x%08x %s%s%s%s", d.IrpFlags,
		flag(d.IrpFlags, driverapi.IRP_NOCACHE, "N"), flag(d.IrpFlags, driverapi.IRP_PAGING_IO, "P"),
		flag(d.IrpFlags, driverapi.IRP_SYNCHRONOUS_API, "S"), flag(d.IrpFlags, driverapi.IRP_SYNCHRONOUS_PAGING_IO, "Y"))
	fmt.Fprintf(&b, "\t0x%016X\t0x%016X\t0x%016X", d.DeviceObject, d.FileObject, d.Transaction)
	fmt.Fprintf(&b, "\t0x%08x:0x%016X", uint32(d.Status), d.Information)
	for _, a := range [...]uint64{d.Arg1, d.Arg2, d.Arg3, d.Arg4, d.Arg5} {
		fmt.Fprintf(&b, "\t0x%016X", a)
	}
	fmt.Fprintf(&b, "\t0x%08x\t%s\n", uint64(d.Arg6), r.Name)
	return b.String()
}

// memoryLine is the extra "M:" line the program writes after a record that says the driver
// ran out of memory or hit its record limit ("" for other records).
func memoryLine(r *minispyproto.LogRecord) string {
	switch {
	case r.RecordType&minispyproto.RECORD_TYPE_FLAG_OUT_OF_MEMORY != 0:
		return fmt.Sprintf("M:\t0x%08X\tSystem Out of Memory\n", r.SequenceNumber)
	case r.RecordType&minispyproto.RECORD_TYPE_FLAG_EXCEED_MEMORY_ALLOWANCE != 0:
		return fmt.Sprintf("M:\t0x%08X\tExceeded Maximum Allowed Memory Buffers\n", r.SequenceNumber)
	}
	return ""
}

func flag(flags, bit uint32, letter string) string {
	if flags&bit != 0 {
		return letter
	}
	return "-"
}

// clock formats a system time as hh:mm:ss:mmm (UTC).
func clock(systemTime int64) string {
	t := kernel.TimeFromSystem(systemTime)
	return fmt.Sprintf("%02d:%02d:%02d:%03d", t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1e6)
}

// Minor function codes the program names (wdm.h).
const (
	irpMnDPC                  = 0x01
	irpMnMDL                  = 0x02
	irpMnMDLDPC               = 0x03
	irpMnComplete             = 0x04
	irpMnCompleteMDL          = 0x06
	irpMnCompleteMDLDPC       = 0x07
	irpMnCompressed           = 0x08
	irpMnQueryDirectory       = 0x01
	irpMnNotifyChangeDir      = 0x02
	irpMnScsiClass            = 0x01
	irpMnLock                 = 0x01
	irpMnUnlockSingle         = 0x02
	irpMnUnlockAll            = 0x03
	irpMnUnlockAllByKey       = 0x04
	irpMnTrackLink            = 0x04
	irpMnNormal               = driverapi.IRP_MN_NORMAL
	irpMnUserFsRequest        = driverapi.IRP_MN_USER_FS_REQUEST
	irpMnMountVolume          = driverapi.IRP_MN_MOUNT_VOLUME
	irpMnVerifyVolume         = driverapi.IRP_MN_VERIFY_VOLUME
	irpMnLoadFileSystem       = driverapi.IRP_MN_LOAD_FILE_SYSTEM
	majorFunctionLastStandard = driverapi.IRP_MJ_MAXIMUM_FUNCTION
)

// OperationNames returns the names the program shows for a major and minor code:
// "IRP_MJ_WRITE", "IRP_MN_NORMAL". The minor name is "" for a major function whose minor codes
// mean nothing, "Unknown Irp minor code (n)" for an unknown one.
func OperationNames(major, minor uint8) (string, string) {
	if major > uint8(majorFunctionLastStandard) {
		return fmt.Sprintf("Unknown Irp major function (%d)", major), ""
	}
	m := driverapi.MajorFunction(major)
	var names map[uint8]string
	switch m {
	case driverapi.IRP_MJ_READ, driverapi.IRP_MJ_WRITE:
		names = map[uint8]string{irpMnNormal: "IRP_MN_NORMAL", irpMnDPC: "IRP_MN_DPC", irpMnMDL: "IRP_MN_MDL",
			irpMnComplete: "IRP_MN_COMPLETE", irpMnCompressed: "IRP_MN_COMPRESSED", irpMnMDLDPC: "IRP_MN_MDL_DPC",
			irpMnCompleteMDL: "IRP_MN_COMPLETE_MDL", irpMnCompleteMDLDPC: "IRP_MN_COMPLETE_MDL_DPC"}
	case driverapi.IRP_MJ_DIRECTORY_CONTROL:
		names = map[uint8]string{irpMnQueryDirectory: "IRP_MN_QUERY_DIRECTORY", irpMnNotifyChangeDir: "IRP_MN_NOTIFY_CHANGE_DIRECTORY"}
	case driverapi.IRP_MJ_FILE_SYSTEM_CONTROL:
		names = map[uint8]string{irpMnUserFsRequest: "IRP_MN_USER_FS_REQUEST", irpMnMountVolume: "IRP_MN_MOUNT_VOLUME",
			irpMnVerifyVolume: "IRP_MN_VERIFY_VOLUME", irpMnLoadFileSystem: "IRP_MN_LOAD_FILE_SYSTEM", irpMnTrackLink: "IRP_MN_TRACK_LINK"}
	case driverapi.IRP_MJ_DEVICE_CONTROL:
		names = map[uint8]string{irpMnScsiClass: "IRP_MN_SCSI_CLASS"}
	case driverapi.IRP_MJ_LOCK_CONTROL:
		names = map[uint8]string{irpMnLock: "IRP_MN_LOCK", irpMnUnlockSingle: "IRP_MN_UNLOCK_SINGLE",
			irpMnUnlockAll: "IRP_MN_UNLOCK_ALL", irpMnUnlockAllByKey: "IRP_MN_UNLOCK_ALL_BY_KEY"}
	default:
		return m.String(), ""
	}
	if n, ok := names[minor]; ok {
		return m.String(), n
	}
	return m.String(), fmt.Sprintf("Unknown Irp minor code (%d)", minor)
}
