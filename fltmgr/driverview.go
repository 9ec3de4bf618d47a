package fltmgr

import (
	"context"

	"github.com/fltemu/fltemu/driverapi"
	"github.com/fltemu/fltemu/fsys"
	"github.com/fltemu/fltemu/kernel"
)

// driverView is the filter manager as one driver sees it: the [driverapi.FilterManager] its
// DriverEntry receives. It has the routines a driver may call and nothing else, so a driver
// cannot reach the host's half of the Manager (loading drivers, connecting users, lab
// controls) even by a type assertion. Each routine is the Manager's unexported
// implementation, in the file of its concern (filter.go, port.go, send.go, io_*.go).
type driverView struct {
	m      *Manager
	driver string // the driver's name, for messages
}

var _ driverapi.FilterManager = (*driverView)(nil)

// ---- FilterManager ----

// RegisterFilter emulates FltRegisterFilter.
func (v *driverView) RegisterFilter(driver *driverapi.DriverObject, registration *driverapi.Registration) (driverapi.Filter, kernel.NTSTATUS) {
	f, st := v.m.registerFilter(driver, registration)
	v.m.noteEntryFailure(v.driver, RoutineRegisterFilter, st, "")
	return f, st
}

// StartFiltering emulates FltStartFiltering.
func (v *driverView) StartFiltering(filter driverapi.Filter) kernel.NTSTATUS {
	st := v.m.startFiltering(filter)
	v.m.noteEntryFailure(v.driver, RoutineStartFiltering, st, "")
	return st
}

// UnregisterFilter emulates FltUnregisterFilter.
func (v *driverView) UnregisterFilter(filter driverapi.Filter) {
	v.m.unregisterFilter(filter)
}

// BuildDefaultSecurityDescriptor emulates FltBuildDefaultSecurityDescriptor.
func (v *driverView) BuildDefaultSecurityDescriptor(desiredAccess kernel.AccessMask) (*kernel.SecurityDescriptor, kernel.NTSTATUS) {
	sd, st := v.m.buildDefaultSecurityDescriptor(desiredAccess)
	v.m.noteEntryFailure(v.driver, "FltBuildDefaultSecurityDescriptor", st, "")
	return sd, st
}

// FreeSecurityDescriptor emulates FltFreeSecurityDescriptor.
func (v *driverView) FreeSecurityDescriptor(sd *kernel.SecurityDescriptor) {
	v.m.freeSecurityDescriptor(sd)
}

// CreateCommunicationPort emulates FltCreateCommunicationPort.
func (v *driverView) CreateCommunicationPort(filter driverapi.Filter, attributes *driverapi.ObjectAttributes, serverPortCookie any, connect driverapi.ConnectNotify, disconnect driverapi.DisconnectNotify, message driverapi.MessageNotify, maxConnections int32) (driverapi.ServerPort, kernel.NTSTATUS) {
	p, st := v.m.createCommunicationPort(filter, attributes, serverPortCookie, connect, disconnect, message, maxConnections)
	v.m.noteEntryFailure(v.driver, RoutineCreateCommunicationPort, st, "")
	return p, st
}

// CloseCommunicationPort emulates FltCloseCommunicationPort.
func (v *driverView) CloseCommunicationPort(serverPort driverapi.ServerPort) {
	v.m.closeCommunicationPort(serverPort)
}

// CloseClientPort emulates FltCloseClientPort.
func (v *driverView) CloseClientPort(filter driverapi.Filter, clientPort *driverapi.ClientPort) {
	v.m.closeClientPort(filter, clientPort)
}

// SendMessage emulates FltSendMessage.
func (v *driverView) SendMessage(ctx context.Context, filter driverapi.Filter, clientPort *driverapi.ClientPort, sendBuffer []byte, replyBuffer []byte, replyLength *uint32, timeout *int64) kernel.NTSTATUS {
	op, st := v.m.sendMessage(ctx, filter, clientPort, sendBuffer, replyBuffer, replyLength, timeout)
	if op == nil {
		return st
	}
	// The common case (delivered, a reply expected, no timeout, no cancellation) waits for
	// the reply in this frame rather than in a helper's: after the goroutine switch every
	// return on the way out is mispredicted, so frames between the driver and the wait cost
	// each round trip (see harness.Process.FilterGetMessage, which does the same).
	<-op.wake
	return op.conn.replied(op, replyLength)
}

// ---- FileRoutines ----

// GetRequestorProcess emulates FltGetRequestorProcess.
func (v *driverView) GetRequestorProcess(data *driverapi.CallbackData) *kernel.Process {
	return v.m.getRequestorProcess(data)
}

// GetRequestorProcessId emulates FltGetRequestorProcessId.
func (v *driverView) GetRequestorProcessId(data *driverapi.CallbackData) uint32 {
	return v.m.getRequestorProcessId(data)
}

// SetCallbackDataDirty emulates FltSetCallbackDataDirty.
func (v *driverView) SetCallbackDataDirty(data *driverapi.CallbackData) {
	v.m.setCallbackDataDirty(data)
}

// ClearCallbackDataDirty emulates FltClearCallbackDataDirty.
func (v *driverView) ClearCallbackDataDirty(data *driverapi.CallbackData) {
	v.m.clearCallbackDataDirty(data)
}

// IsCallbackDataDirty emulates FltIsCallbackDataDirty.
func (v *driverView) IsCallbackDataDirty(data *driverapi.CallbackData) bool {
	return v.m.isCallbackDataDirty(data)
}

// CompletePendedPreOperation emulates FltCompletePendedPreOperation.
func (v *driverView) CompletePendedPreOperation(data *driverapi.CallbackData, status driverapi.PreopCallbackStatus, completionContext any) {
	v.m.completePendedPreOperation(data, status, completionContext)
}

// CompletePendedPostOperation emulates FltCompletePendedPostOperation.
func (v *driverView) CompletePendedPostOperation(data *driverapi.CallbackData) {
	v.m.completePendedPostOperation(data)
}

// DoCompletionProcessingWhenSafe emulates FltDoCompletionProcessingWhenSafe.
func (v *driverView) DoCompletionProcessingWhenSafe(data *driverapi.CallbackData, fltObjects *driverapi.RelatedObjects, completionContext any, flags driverapi.PostOperationFlags, safePostCallback driverapi.PostOperationCallback) (driverapi.PostopCallbackStatus, bool) {
	return v.m.doCompletionProcessingWhenSafe(data, fltObjects, completionContext, flags, safePostCallback)
}

// GetCurrentIrql emulates KeGetCurrentIrql.
func (v *driverView) GetCurrentIrql() kernel.KIRQL {
	return v.m.getCurrentIrql()
}

// ReadFile emulates FltReadFile.
func (v *driverView) ReadFile(ctx context.Context, instance driverapi.Instance, fileObject *fsys.FileObject, byteOffset *int64, length uint32, buffer []byte, flags uint32) (bytesRead uint32, status kernel.NTSTATUS) {
	return v.m.readFile(ctx, instance, fileObject, byteOffset, length, buffer, flags)
}

// WriteFile emulates FltWriteFile.
func (v *driverView) WriteFile(ctx context.Context, instance driverapi.Instance, fileObject *fsys.FileObject, byteOffset *int64, length uint32, buffer []byte, flags uint32) (bytesWritten uint32, status kernel.NTSTATUS) {
	return v.m.writeFile(ctx, instance, fileObject, byteOffset, length, buffer, flags)
}

// QueryInformationFile emulates FltQueryInformationFile.
func (v *driverView) QueryInformationFile(ctx context.Context, instance driverapi.Instance, fileObject *fsys.FileObject, class fsys.FileInformationClass) (any, kernel.NTSTATUS) {
	return v.m.queryInformationFile(ctx, instance, fileObject, class)
}

// SetInformationFile emulates FltSetInformationFile.
func (v *driverView) SetInformationFile(ctx context.Context, instance driverapi.Instance, fileObject *fsys.FileObject, class fsys.FileInformationClass, info any) kernel.NTSTATUS {
	return v.m.setInformationFile(ctx, instance, fileObject, class, info)
}

// CancelFileOpen emulates FltCancelFileOpen.
func (v *driverView) CancelFileOpen(instance driverapi.Instance, fileObject *fsys.FileObject) {
	v.m.cancelFileOpen(instance, fileObject)
}

// IsDirectory emulates FltIsDirectory.
func (v *driverView) IsDirectory(fileObject *fsys.FileObject, instance driverapi.Instance) (bool, kernel.NTSTATUS) {
	return v.m.isDirectory(fileObject, instance)
}

// GetFileNameInformation emulates FltGetFileNameInformation.
func (v *driverView) GetFileNameInformation(data *driverapi.CallbackData, nameOptions uint32) (*driverapi.FltFileNameInformation, kernel.NTSTATUS) {
	return v.m.getFileNameInformation(data, nameOptions)
}

// GetFileNameInformationUnsafe emulates FltGetFileNameInformationUnsafe.
func (v *driverView) GetFileNameInformationUnsafe(fileObject *fsys.FileObject, instance driverapi.Instance, nameOptions uint32) (*driverapi.FltFileNameInformation, kernel.NTSTATUS) {
	return v.m.getFileNameInformationUnsafe(fileObject, instance, nameOptions)
}

// ReferenceFileNameInformation emulates FltReferenceFileNameInformation.
func (v *driverView) ReferenceFileNameInformation(info *driverapi.FltFileNameInformation) {
	v.m.referenceFileNameInformation(info)
}

// ReleaseFileNameInformation emulates FltReleaseFileNameInformation.
func (v *driverView) ReleaseFileNameInformation(info *driverapi.FltFileNameInformation) {
	v.m.releaseFileNameInformation(info)
}

// ParseFileNameInformation emulates FltParseFileNameInformation.
func (v *driverView) ParseFileNameInformation(info *driverapi.FltFileNameInformation) kernel.NTSTATUS {
	return v.m.parseFileNameInformation(info)
}

// AllocateContext emulates FltAllocateContext.
func (v *driverView) AllocateContext(filter driverapi.Filter, contextType driverapi.ContextType, size uintptr, poolType driverapi.PoolType) (driverapi.FltContext, kernel.NTSTATUS) {
	return v.m.allocateContext(filter, contextType, size, poolType)
}

// ReferenceContext emulates FltReferenceContext.
func (v *driverView) ReferenceContext(c driverapi.FltContext) {
	v.m.referenceContext(c)
}

// ReleaseContext emulates FltReleaseContext.
func (v *driverView) ReleaseContext(c driverapi.FltContext) {
	v.m.releaseContext(c)
}

// DeleteContext emulates FltDeleteContext.
func (v *driverView) DeleteContext(c driverapi.FltContext) {
	v.m.deleteContext(c)
}

// SetStreamHandleContext emulates FltSetStreamHandleContext.
func (v *driverView) SetStreamHandleContext(instance driverapi.Instance, fileObject *fsys.FileObject, operation driverapi.SetContextOperation, newContext driverapi.FltContext, oldContext *driverapi.FltContext) kernel.NTSTATUS {
	return v.m.setStreamHandleContext(instance, fileObject, operation, newContext, oldContext)
}

// GetStreamHandleContext emulates FltGetStreamHandleContext.
func (v *driverView) GetStreamHandleContext(instance driverapi.Instance, fileObject *fsys.FileObject) (driverapi.FltContext, kernel.NTSTATUS) {
	return v.m.getStreamHandleContext(instance, fileObject)
}

// DeleteStreamHandleContext emulates FltDeleteStreamHandleContext.
func (v *driverView) DeleteStreamHandleContext(instance driverapi.Instance, fileObject *fsys.FileObject, oldContext *driverapi.FltContext) kernel.NTSTATUS {
	return v.m.deleteStreamHandleContext(instance, fileObject, oldContext)
}

// SetStreamContext emulates FltSetStreamContext.
func (v *driverView) SetStreamContext(instance driverapi.Instance, fileObject *fsys.FileObject, operation driverapi.SetContextOperation, newContext driverapi.FltContext, oldContext *driverapi.FltContext) kernel.NTSTATUS {
	return v.m.setStreamContext(instance, fileObject, operation, newContext, oldContext)
}

// GetStreamContext emulates FltGetStreamContext.
func (v *driverView) GetStreamContext(instance driverapi.Instance, fileObject *fsys.FileObject) (driverapi.FltContext, kernel.NTSTATUS) {
	return v.m.getStreamContext(instance, fileObject)
}

// DeleteStreamContext emulates FltDeleteStreamContext.
func (v *driverView) DeleteStreamContext(instance driverapi.Instance, fileObject *fsys.FileObject, oldContext *driverapi.FltContext) kernel.NTSTATUS {
	return v.m.deleteStreamContext(instance, fileObject, oldContext)
}

// SetInstanceContext emulates FltSetInstanceContext.
func (v *driverView) SetInstanceContext(instance driverapi.Instance, operation driverapi.SetContextOperation, newContext driverapi.FltContext, oldContext *driverapi.FltContext) kernel.NTSTATUS {
	return v.m.setInstanceContext(instance, operation, newContext, oldContext)
}

// GetInstanceContext emulates FltGetInstanceContext.
func (v *driverView) GetInstanceContext(instance driverapi.Instance) (driverapi.FltContext, kernel.NTSTATUS) {
	return v.m.getInstanceContext(instance)
}

// DeleteInstanceContext emulates FltDeleteInstanceContext.
func (v *driverView) DeleteInstanceContext(instance driverapi.Instance, oldContext *driverapi.FltContext) kernel.NTSTATUS {
	return v.m.deleteInstanceContext(instance, oldContext)
}

// GetVolumeFromInstance emulates FltGetVolumeFromInstance.
func (v *driverView) GetVolumeFromInstance(instance driverapi.Instance) (driverapi.FltVolume, kernel.NTSTATUS) {
	return v.m.getVolumeFromInstance(instance)
}

// GetVolumeFromFileObject emulates FltGetVolumeFromFileObject.
func (v *driverView) GetVolumeFromFileObject(filter driverapi.Filter, fileObject *fsys.FileObject) (driverapi.FltVolume, kernel.NTSTATUS) {
	return v.m.getVolumeFromFileObject(filter, fileObject)
}

// GetVolumeFromName emulates FltGetVolumeFromName.
func (v *driverView) GetVolumeFromName(filter driverapi.Filter, name string) (driverapi.FltVolume, kernel.NTSTATUS) {
	return v.m.getVolumeFromName(filter, name)
}

// GetVolumeProperties emulates FltGetVolumeProperties.
func (v *driverView) GetVolumeProperties(volume driverapi.FltVolume) (driverapi.VolumeProperties, kernel.NTSTATUS) {
	return v.m.getVolumeProperties(volume)
}

// GetVolumeName emulates FltGetVolumeName.
func (v *driverView) GetVolumeName(volume driverapi.FltVolume) (string, kernel.NTSTATUS) {
	return v.m.getVolumeName(volume)
}

// GetVolumeGuidName emulates FltGetVolumeGuidName.
func (v *driverView) GetVolumeGuidName(volume driverapi.FltVolume) (string, kernel.NTSTATUS) {
	return v.m.getVolumeGuidName(volume)
}

// GetFilterFromInstance emulates FltGetFilterFromInstance.
func (v *driverView) GetFilterFromInstance(instance driverapi.Instance) (driverapi.Filter, kernel.NTSTATUS) {
	return v.m.getFilterFromInstance(instance)
}

// ObjectReference emulates FltObjectReference.
func (v *driverView) ObjectReference(object any) kernel.NTSTATUS {
	return v.m.objectReference(object)
}

// ObjectDereference emulates FltObjectDereference.
func (v *driverView) ObjectDereference(object any) {
	v.m.objectDereference(object)
}

// AttachVolume emulates FltAttachVolume.
func (v *driverView) AttachVolume(filter driverapi.Filter, volume driverapi.FltVolume, instanceName string) (driverapi.Instance, kernel.NTSTATUS) {
	return v.m.attachVolume(filter, volume, instanceName)
}

// DetachVolume emulates FltDetachVolume.
func (v *driverView) DetachVolume(filter driverapi.Filter, volume driverapi.FltVolume, instanceName string) kernel.NTSTATUS {
	return v.m.detachVolume(filter, volume, instanceName)
}

// ---- DataScanRoutines ----

// RegisterForDataScan emulates FltRegisterForDataScan.
func (v *driverView) RegisterForDataScan(instance driverapi.Instance) kernel.NTSTATUS {
	return v.m.registerForDataScan(instance)
}

// CreateSectionForDataScan emulates FltCreateSectionForDataScan.
func (v *driverView) CreateSectionForDataScan(ctx context.Context, instance driverapi.Instance, fileObject *fsys.FileObject, sectionContext driverapi.FltContext, desiredAccess kernel.AccessMask, objectAttributes *driverapi.ObjectAttributes, maximumSize *int64, sectionPageProtection, allocationAttributes, flags uint32) (sectionHandle kernel.Handle, sectionObject any, sectionFileSize int64, status kernel.NTSTATUS) {
	return v.m.createSectionForDataScan(ctx, instance, fileObject, sectionContext, desiredAccess, objectAttributes, maximumSize, sectionPageProtection, allocationAttributes, flags)
}

// CloseSectionForDataScan emulates FltCloseSectionForDataScan.
func (v *driverView) CloseSectionForDataScan(sectionContext driverapi.FltContext) kernel.NTSTATUS {
	return v.m.closeSectionForDataScan(sectionContext)
}
