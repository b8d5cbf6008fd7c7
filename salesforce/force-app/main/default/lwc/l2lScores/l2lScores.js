import { LightningElement, api, wire } from 'lwc';
import { getRecord } from 'lightning/uiRecordApi';
import { SECTIONS } from './fields';

// The lead2loyalty fields of the record on this page, with their labels. Fields are asked
// as optionalFields: one the user cannot see is left out of the answer (and off the card)
// instead of failing the whole read.
export default class L2lScores extends LightningElement {
    @api recordId;
    @api objectApiName;
    record;
    error;

    get optionalFields() {
        return (SECTIONS[this.objectApiName] || []).flatMap((section) =>
            section.fields.map((field) => `${this.objectApiName}.${field.apiName}`)
        );
    }

    @wire(getRecord, { recordId: '$recordId', optionalFields: '$optionalFields' })
    wiredRecord({ data, error }) {
        this.record = data;
        this.error = error;
    }

    get sections() {
        if (!this.record) {
            return [];
        }
        const values = this.record.fields || {};
        return (SECTIONS[this.objectApiName] || [])
            .map((section) => ({
                label: section.label,
                fields: section.fields
                    .filter((field) => field.apiName in values)
                    .map((field) => ({
                        apiName: field.apiName,
                        label: field.label,
                        value: shown(values[field.apiName])
                    }))
            }))
            .filter((section) => section.fields.length > 0);
    }

    get hasScores() {
        return this.sections.length > 0;
    }

    get noScores() {
        return Boolean(this.record) && !this.hasScores;
    }

    get errorMessage() {
        if (!this.error) {
            return undefined;
        }
        const body = this.error.body;
        return (body && body.message) || 'The scores could not be read.';
    }
}

// What the rep reads: Salesforce's formatted value (currency, percent, date, picklist label)
// when it sends one, else the raw value, else a dash for "not computed yet".
function shown(field) {
    if (field.displayValue !== null && field.displayValue !== undefined) {
        return field.displayValue;
    }
    if (field.value === null || field.value === undefined || field.value === '') {
        return '—';
    }
    return String(field.value);
}
