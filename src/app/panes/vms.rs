//! The VMs pane: the VM list's index (sort, filter, account filter, deleted VMs), its
//! selection kept on the same VM across re-sorts, re-filters and new snapshots, and its keys
//! (`o` `O` sort, `d` deleted VMs). The lifecycle dialogs its keys open are in
//! [`crate::app::lifecycle`]; drawing is in `ui/panes/vms.rs`.

use crate::app::input::LineInput;
use crate::app::keymap::Action;
use crate::app::list::ListState;
use crate::app::{Model, Overlay};
use crate::protocol::VmRow;
use crate::view::vm_index::{SortColumn, VmIndex};
use uuid::Uuid;

/// View state of the VM list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VmsView {
    /// Cached haystacks, sort order and visible rows.
    pub index: VmIndex,
    /// Selection among the visible rows.
    pub list: ListState,
    /// Sort column.
    pub sort: SortColumn,
    /// Descending when true.
    pub reverse: bool,
    /// Filter text (whitespace-separated terms, all must match), edited by the `/` line.
    pub filter: LineInput,
    /// The selected VM's id, kept across re-sorts, re-filters and new snapshots.
    pub selected_id: Option<Uuid>,
    /// Show VMs with status `deleted` (hidden by default; `d` toggles).
    pub show_deleted: bool,
}

impl Model {
    /// The VM rows visible in the VM list, in order.
    pub fn visible_vms(&self) -> impl Iterator<Item = &VmRow> + '_ {
        self.vms
            .index
            .visible()
            .iter()
            .filter_map(|&i| self.snapshot.vms.get(i))
    }

    /// The selected VM, if any.
    pub fn selected_vm(&self) -> Option<&VmRow> {
        let i = *self.vms.index.visible().get(self.vms.list.selected)?;
        self.snapshot.vms.get(i)
    }

    pub(crate) fn remember_selection(&mut self) {
        self.vms.selected_id = self.selected_vm().map(|v| v.record.id);
    }

    /// Puts the selection back on the remembered VM after the visible rows changed (first row
    /// when it is gone).
    pub(crate) fn restore_selection(&mut self) {
        let found = self.vms.selected_id.and_then(|id| {
            self.vms
                .index
                .visible()
                .iter()
                .position(|&i| self.snapshot.vms.get(i).is_some_and(|v| v.record.id == id))
        });
        self.vms.list.selected = found.unwrap_or(0);
        let len = self.vms.index.visible().len();
        self.vms.list.clamp(len);
        self.remember_selection();
    }

    /// Recomputes the visible rows after the filter, account filter or deleted toggle changed.
    pub(crate) fn refilter(&mut self) {
        self.vms.index.refilter(
            &self.snapshot.vms,
            self.vms.filter.text(),
            self.account_filter.as_deref(),
            self.vms.show_deleted,
        );
        self.restore_selection();
    }

    fn resort(&mut self) {
        self.vms
            .index
            .resort(&self.snapshot.vms, self.vms.sort, self.vms.reverse);
        self.restore_selection();
    }

    /// Rebuilds the index from a new snapshot (the VMs pane's derive).
    pub(crate) fn reindex(&mut self) {
        self.vms.index = VmIndex::from_prebuilt(
            self.prebuilt.vm_table.clone(),
            self.vms.sort,
            self.vms.reverse,
            self.vms.filter.text(),
            self.account_filter.as_deref(),
            self.vms.show_deleted,
        );
        self.restore_selection();
    }
}

/// Runs a key of the VMs pane's own (sort, reverse, deleted VMs, the filter line).
pub(crate) fn action(model: &mut Model, action: Action) {
    match action {
        Action::SortNext => {
            model.vms.sort = model.vms.sort.next();
            model.vms.reverse = false;
            model.resort();
        }
        Action::SortReverse => {
            model.vms.reverse = !model.vms.reverse;
            model.resort();
        }
        Action::ToggleDeleted => {
            model.vms.show_deleted = !model.vms.show_deleted;
            model.refilter();
        }
        Action::Filter => {
            model.overlay = Some(Overlay::Filter(crate::app::FilterLine {
                previous: model.vms.filter.text().to_string(),
            }))
        }
        _ => {}
    }
}
