{{ stg_data_attributes('CONTACT_ATTRIBUTES') }}
